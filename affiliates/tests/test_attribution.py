from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from affiliates import selectors, services
from affiliates.cookies import REFERRAL_COOKIE, VISITOR_COOKIE, encode_referral
from affiliates.middleware import ReferralMiddleware
from affiliates.models import Affiliate, ReferralClick
from affiliates.selectors import referral_code_from_request
from affiliates.tests.factories import AffiliateFactory

pytestmark = pytest.mark.django_db

CATALOG = "/courses/"


def _referral(client) -> str | None:
    """What checkout would read from this browser's cookies."""
    request = RequestFactory().get("/")
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items()}
    return referral_code_from_request(request)


def test_referral_visit_records_a_click_and_sets_a_signed_httponly_cookie():
    affiliate = AffiliateFactory()
    client = Client()

    response = client.get(CATALOG, {"ref": affiliate.referral_code})

    assert response.status_code == 200
    assert ReferralClick.objects.filter(affiliate=affiliate).count() == 1
    cookie = response.cookies[REFERRAL_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    assert cookie["max-age"] == 30 * 24 * 60 * 60
    assert response.cookies[VISITOR_COOKIE]["httponly"]
    assert _referral(client) == affiliate.referral_code


def test_cookie_is_secure_on_https_and_follows_the_configured_window(settings):
    settings.AFFILIATE_COOKIE_DAYS = 7
    affiliate = AffiliateFactory()

    response = Client().get(CATALOG, {"ref": affiliate.referral_code}, secure=True)

    assert response.cookies[REFERRAL_COOKIE]["secure"]
    assert response.cookies[REFERRAL_COOKIE]["max-age"] == 7 * 24 * 60 * 60


def test_any_page_accepts_the_referral_and_the_code_is_case_insensitive():
    affiliate = AffiliateFactory()
    client = Client()

    response = client.get("/healthz", {"ref": affiliate.referral_code.upper()})

    assert REFERRAL_COOKIE in response.cookies
    assert _referral(client) == affiliate.referral_code


def test_one_click_per_visitor_per_day_but_each_visitor_counts():
    affiliate = AffiliateFactory()
    returning, other = Client(), Client()

    for _ in range(3):
        returning.get(CATALOG, {"ref": affiliate.referral_code})
    other.get(CATALOG, {"ref": affiliate.referral_code})

    assert ReferralClick.objects.filter(affiliate=affiliate).count() == 2


def test_the_unique_constraint_decides_one_click_per_visitor_and_day():
    affiliate = AffiliateFactory()
    today = timezone.localdate()

    recorded = [
        services.record_referral_click(affiliate_id=affiliate.pk, visitor_key="v1", day=today),
        services.record_referral_click(affiliate_id=affiliate.pk, visitor_key="v1", day=today),
        services.record_referral_click(
            affiliate_id=affiliate.pk, visitor_key="v1", day=today + timedelta(days=1)
        ),
    ]

    assert recorded == [True, False, True]
    assert ReferralClick.objects.count() == 2


def test_visitor_id_is_stored_only_as_a_keyed_hash():
    affiliate = AffiliateFactory()
    client = Client()

    client.get(CATALOG, {"ref": affiliate.referral_code})

    visitor_id = client.cookies[VISITOR_COOKIE].value
    assert visitor_id not in ReferralClick.objects.get().visitor_key


@pytest.mark.parametrize("state", ["unknown", "suspended", "garbage", "huge", "nul"])
def test_unknown_suspended_or_malformed_codes_are_ignored_without_error(state):
    suspended = AffiliateFactory(status=Affiliate.Status.SUSPENDED)
    code = {
        "unknown": "zzzzzzzzzz",
        "suspended": suspended.referral_code,
        "garbage": "<script>alert(1)</script>",
        "huge": "a" * 10_000,
        "nul": "abc\x00def",
    }[state]

    response = Client().get(CATALOG, {"ref": code})

    # A NUL anywhere in a query string gets the site's 400 page (RequestInputMiddleware).
    assert response.status_code == (400 if state == "nul" else 200)
    assert REFERRAL_COOKIE not in response.cookies
    assert not ReferralClick.objects.exists()


def test_malformed_codes_never_reach_the_database():
    with CaptureQueriesContext(connection) as queries:
        Client().get("/healthz", {"ref": "../../etc/passwd"})

    assert len(queries) == 0


def test_only_get_requests_record_referrals():
    affiliate = AffiliateFactory()

    response = Client().post(f"/healthz?ref={affiliate.referral_code}")

    assert REFERRAL_COOKIE not in response.cookies
    assert not ReferralClick.objects.exists()


def test_latest_valid_click_wins_and_an_invalid_one_changes_nothing():
    first, second = AffiliateFactory(), AffiliateFactory()
    client = Client()

    client.get(CATALOG, {"ref": first.referral_code})
    client.get(CATALOG, {"ref": second.referral_code})
    client.get(CATALOG, {"ref": "zzzzzzzzzz"})

    assert _referral(client) == second.referral_code


def test_referral_from_this_very_request_is_seen_before_the_cookie_is_stored():
    earlier, latest = AffiliateFactory(), AffiliateFactory()
    seen = {}

    def view(request):
        seen["code"] = referral_code_from_request(request)
        return HttpResponse()

    request = RequestFactory().get(CATALOG, {"ref": latest.referral_code})
    request.COOKIES[REFERRAL_COOKIE] = encode_referral(earlier.referral_code, timezone.now())
    ReferralMiddleware(view)(request)

    assert seen["code"] == latest.referral_code


@pytest.mark.parametrize(
    ("days_ago", "expected"), [(0, True), (29, True), (30.5, False), (400, False)]
)
def test_attribution_window_expires_after_the_configured_days(days_ago, expected):
    affiliate = AffiliateFactory()
    clicked_at = timezone.now() - timedelta(days=days_ago)
    request = RequestFactory().get("/")
    request.COOKIES[REFERRAL_COOKIE] = encode_referral(affiliate.referral_code, clicked_at)

    code = referral_code_from_request(request)

    assert (code == affiliate.referral_code) is expected


@pytest.mark.parametrize("value", ["", "abc", "zzzzzzzzzz:forged:sig", "a" * 5000])
def test_forged_or_damaged_cookie_gives_no_referral(value):
    request = RequestFactory().get("/")
    request.COOKIES[REFERRAL_COOKIE] = value

    assert referral_code_from_request(request) is None


def test_a_cookie_from_another_signing_key_is_refused(settings):
    affiliate = AffiliateFactory()
    value = encode_referral(affiliate.referral_code, timezone.now())
    settings.SECRET_KEY = "another-secret-key-entirely-different-from-the-first-one"
    request = RequestFactory().get("/")
    request.COOKIES[REFERRAL_COOKIE] = value

    assert referral_code_from_request(request) is None


def test_referral_clicks_are_rate_limited_per_ip(settings):
    settings.REFERRAL_CLICK_RATE = "2/h"
    affiliate = AffiliateFactory()

    responses = [Client().get(CATALOG, {"ref": affiliate.referral_code}) for _ in range(3)]

    assert [REFERRAL_COOKIE in response.cookies for response in responses] == [True, True, False]
    assert [response.status_code for response in responses] == [200, 200, 200]
    assert ReferralClick.objects.count() == 2


def test_a_click_on_a_page_served_from_the_cache_is_still_recorded():
    affiliate = AffiliateFactory()
    Client().get(CATALOG)  # cached for every anonymous visitor

    response = Client().get(CATALOG, {"ref": affiliate.referral_code})

    assert response.templates == []  # served from the cache
    assert REFERRAL_COOKIE in response.cookies
    assert ReferralClick.objects.filter(affiliate=affiliate).count() == 1


def test_rate_limit_fails_open_when_its_cache_is_down(settings):
    settings.CACHES = {
        **settings.CACHES,
        "broken": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    settings.RATELIMIT_USE_CACHE = "broken"
    affiliate = AffiliateFactory()

    response = Client().get(CATALOG, {"ref": affiliate.referral_code})

    assert response.status_code == 200
    assert REFERRAL_COOKIE in response.cookies
    assert ReferralClick.objects.count() == 1


# --- resolve_attribution: the server-side decision at checkout ----------------------------


def test_attribution_goes_to_the_active_affiliate_of_the_code():
    affiliate = AffiliateFactory()

    attribution = selectors.resolve_attribution(
        referral_code=affiliate.referral_code, buyer_email="buyer@example.com", buyer_user=None
    )

    assert attribution == selectors.Attribution(affiliate=affiliate, refusal=None)


@pytest.mark.parametrize("code", [None, "", "zzzzzzzzzz", "<bad>"])
def test_no_code_or_an_unknown_code_attributes_nothing_silently(code):
    attribution = selectors.resolve_attribution(
        referral_code=code, buyer_email="buyer@example.com", buyer_user=None
    )

    assert attribution == selectors.Attribution(affiliate=None, refusal=None)


def test_suspended_affiliate_gets_no_attribution():
    affiliate = AffiliateFactory(status=Affiliate.Status.SUSPENDED)

    attribution = selectors.resolve_attribution(
        referral_code=affiliate.referral_code, buyer_email="buyer@example.com", buyer_user=None
    )

    assert attribution == selectors.Attribution(affiliate=None, refusal=None)


@pytest.mark.parametrize(
    "buyer_email",
    [
        "ann@example.com",
        "ANN@EXAMPLE.COM",
        "  Ann@Example.com ",
        "ann+course@example.com",
        "ann.pay@paypal.example",  # the affiliate's PayPal address
        "ann.work@example.org",  # a second address on the account
    ],
)
def test_buying_with_one_of_the_affiliates_own_addresses_is_refused(buyer_email):
    user = UserFactory(email="ann@example.com")
    EmailAddress.objects.create(user=user, email="ann.work@example.org", verified=True)
    affiliate = AffiliateFactory(user=user, paypal_email="ann.pay@paypal.example")

    attribution = selectors.resolve_attribution(
        referral_code=affiliate.referral_code, buyer_email=buyer_email, buyer_user=None
    )

    assert attribution.affiliate is None
    assert attribution.refusal == (
        "Referral not applied: you cannot earn a commission on your own purchase."
    )


def test_buying_while_logged_in_as_the_affiliate_is_refused_whatever_the_email():
    affiliate = AffiliateFactory()

    attribution = selectors.resolve_attribution(
        referral_code=affiliate.referral_code,
        buyer_email="someone.else@example.com",
        buyer_user=affiliate.user,
    )

    assert attribution.affiliate is None
    assert attribution.refusal == selectors.SELF_REFERRAL_REFUSAL


def test_another_logged_in_buyer_is_attributed():
    affiliate = AffiliateFactory()
    buyer = UserFactory()

    attribution = selectors.resolve_attribution(
        referral_code=affiliate.referral_code, buyer_email=buyer.email, buyer_user=buyer
    )

    assert attribution.affiliate == affiliate and attribution.refusal is None
