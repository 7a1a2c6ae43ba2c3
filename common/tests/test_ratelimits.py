"""``rate_limit``: the one decorator of every rate-limited view. Each decorator counts all its
limits and answers with the longest wait; stacked ones are checked outermost first and a request
one refuses is not counted by those below; a fail-closed limit with its store down answers with
the view's own ``unavailable`` page; requests of other methods are never counted. On Redis the
counters are django-ratelimit's own keys (read back here with its ``get_usage``), all of a
request's in one round trip, each expiring with its window."""

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpResponse
from django_ratelimit.core import _get_window, _make_cache_key, get_usage

from common.ratelimits import Limit, RateLimitUnavailable, rate_limit

pytestmark = pytest.mark.django_db


def _request(rf, method="post", email="a@example.com"):
    request = getattr(rf, method)("/limited/", {"email": email} if method == "post" else {})
    request.user = AnonymousUser()
    return request


def _count(request, limit: Limit) -> int:
    rate = getattr(django_settings, limit.rate)
    usage = get_usage(request, group=limit.group, key=limit.key, rate=rate, increment=False)
    return usage["count"]


def _ok(request, *args, **kwargs):
    return HttpResponse("ok")


@pytest.fixture
def rates(settings):
    settings.TEST_RATE_ONE = "1/h"
    settings.TEST_RATE_TWO = "2/m"
    settings.TEST_RATE_MANY = "100/h"


def test_past_a_limit_the_view_answers_429_with_retry_after_and_is_not_called(rf, rates):
    calls = []
    view = rate_limit(Limit("t.one", key="ip", rate="TEST_RATE_ONE"))(
        lambda request: calls.append(1) or HttpResponse("ok")
    )

    first, second = view(_request(rf)), view(_request(rf))

    assert first.status_code == 200 and calls == [1]
    assert second.status_code == 429
    assert 0 < int(second["Retry-After"]) <= 3600


def test_one_decorator_counts_every_limit_and_answers_with_the_longest_wait(rf, rates):
    hourly = Limit("t.hourly", key="ip", rate="TEST_RATE_ONE")
    per_minute = Limit("t.minute", key="ip", rate="TEST_RATE_TWO")
    view = rate_limit(per_minute, hourly)(_ok)

    view(_request(rf))
    limited = view(_request(rf))

    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 60  # the hourly window's wait, not the minute's
    assert _count(_request(rf), per_minute) == 2


def test_stacked_decorators_do_not_count_a_request_the_outer_one_refused(rf, rates):
    per_ip = Limit("t.ip", key="ip", rate="TEST_RATE_ONE")
    per_email = Limit(
        "t.email", key=lambda group, request: request.POST["email"], rate="TEST_RATE_MANY"
    )
    view = rate_limit(per_ip)(rate_limit(per_email)(_ok))

    statuses = [view(_request(rf)).status_code for _ in range(3)]

    assert statuses == [200, 429, 429]
    assert _count(_request(rf), per_email) == 1


def test_other_methods_and_requests_outside_when_are_not_counted(rf, rates):
    limit = Limit("t.when", key="ip", rate="TEST_RATE_ONE")
    view = rate_limit(limit, when=lambda request: request.POST.get("email") == "x@example.com")(_ok)

    for _ in range(3):
        assert view(_request(rf, "get")).status_code == 200
        assert view(_request(rf, email="y@example.com")).status_code == 200

    assert _count(_request(rf), limit) == 0


def test_a_limit_that_does_not_apply_to_the_request_is_not_counted(rf, rates):
    users_only = Limit("t.users", key="user", rate="TEST_RATE_ONE", applies=lambda r: False)
    view = rate_limit(users_only)(_ok)

    assert [view(_request(rf)).status_code for _ in range(3)] == [200, 200, 200]


def test_a_fail_closed_limit_with_its_store_down_answers_with_the_unavailable_page(
    rf, rates, redis_down
):
    closed = Limit("t.closed", key="ip", rate="TEST_RATE_MANY", fail_closed=True)
    opened = Limit("t.open", key="ip", rate="TEST_RATE_MANY")

    def unavailable(request, slug):
        return HttpResponse(f"checks down for {slug}", status=503)

    refused = rate_limit(closed, unavailable=unavailable)(_ok)(_request(rf), slug="s")
    allowed = rate_limit(opened)(_ok)(_request(rf), slug="s")

    assert (refused.status_code, refused.content) == (503, b"checks down for s")
    assert allowed.status_code == 200
    with pytest.raises(RateLimitUnavailable):
        rate_limit(closed)(_ok)(_request(rf))


def test_no_middleware_turns_django_ratelimit_exceptions_into_pages():
    # Nothing raises Ratelimited: every limit answers through rate_limit.
    assert "django_ratelimit.middleware.RatelimitMiddleware" not in django_settings.MIDDLEWARE


def test_a_counter_counted_on_redis_expires_with_its_window(rf, rates):
    cache = caches[django_settings.RATELIMIT_USE_CACHE]
    if not isinstance(cache, RedisCache):
        pytest.skip("counted by django-ratelimit itself on this cache: set REDIS_URL")
    limit = Limit("t.expiry", key="ip", rate="TEST_RATE_TWO")
    view = rate_limit(limit)(_ok)

    statuses = [view(_request(rf)).status_code for _ in range(3)]

    value = "127.0.0.1"  # the request factory's address
    key = _make_cache_key(limit.group, _get_window(value, 60), "2/m", value, None)
    assert statuses == [200, 200, 429]
    assert _count(_request(rf), limit) == 3
    assert 0 < cache._cache.get_client().ttl(cache.make_key(key)) <= 60 + 5
