"""Counting requests against a rate (django-ratelimit's counters and windows, in the cache =
Redis).

Views are limited with the ``rate_limit`` decorator and ``Limit`` counters (the referral-click
middleware counts a ``Limit`` itself). When the cache is down a limit either fails open
(browsing-level limits: the page works and an error is logged) or fails closed (guards against
brute force, such as coupon attempts: the request is refused with a clear message). Each limit
chooses; docs/security.md lists the choices.

On Redis, every counter of a request is counted in one round trip (a Lua script), instead of
django-ratelimit's two or three per counter; the keys, windows and counts are django-ratelimit's
own, so either reads the other's. Other caches (local memory) count through django-ratelimit.
"""

import functools
import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_ratelimit.core import _SIMPLE_KEYS, _get_window, _make_cache_key, _split_rate, get_usage

logger = logging.getLogger(__name__)

# django-ratelimit's own margin on a counter's expiry.
EXPIRATION_FUDGE = 5


class RateLimitUnavailable(Exception):
    """The counter store cannot be reached and this limit fails closed."""


def posted_email_key(group: str, request: HttpRequest) -> str:
    """django-ratelimit key: the e-mail a form posts, normalised as we store it."""
    return request.POST.get("email", "").strip().lower()[:254]


@dataclass(frozen=True)
class Limit:
    """One counter: requests per ``key`` within ``group``, at the rate held by the setting named
    ``rate`` (read on each request, so tests and deployments can change it).

    ``key`` is django-ratelimit's: ``"ip"`` (the trusted client address), ``"user"``, or a
    callable ``(group, request) -> str`` such as ``posted_email_key``. ``applies`` limits the
    counter to some requests (e.g. signed-in users). A ``fail_closed`` limit refuses the request
    when the counter store is down (``RateLimitUnavailable``); the others let it through."""

    group: str
    key: str | Callable[[str, HttpRequest], str]
    rate: str
    fail_closed: bool = False
    applies: Callable[[HttpRequest], bool] | None = None

    def counts(self, request: HttpRequest) -> bool:
        """Whether this request is counted here. A request with no key (no e-mail posted) is
        not: one shared counter for all of them would limit every such visitor together (the
        per-IP limit still counts it)."""
        if self.applies is not None and not self.applies(request):
            return False
        return not (callable(self.key) and not self.key(self.group, request))

    def wait(self, request: HttpRequest) -> int:
        """Count this request: 0, or the seconds until the limit lets it through again."""
        if not self.counts(request):
            return 0
        return _count_tiers(request, [[(self, getattr(settings, self.rate))]])[0]


# KEYS: the counters, tier after tier. ARGV: the number of tiers, each tier's number of
# counters, then each counter's limit and expiry. A tier with a counter past its limit ends
# the counting: the tiers after it are not counted (as a refused request is not, below).
_COUNT_SCRIPT = """
local tiers, k, a = tonumber(ARGV[1]), 0, tonumber(ARGV[1]) + 2
local counts = {}
for t = 1, tiers do
  local over = false
  for i = 1, tonumber(ARGV[t + 1]) do
    k = k + 1
    local count = redis.call('INCR', KEYS[k])
    if count == 1 then redis.call('EXPIRE', KEYS[k], ARGV[a + 1]) end
    counts[k] = count
    if count > tonumber(ARGV[a]) then over = true end
    a = a + 2
  end
  if over then break end
end
return counts
"""
_script = None  # registered once; it runs on whichever client it is given


def _count_tiers(request: HttpRequest, tiers: list[list[tuple["Limit", str]]]) -> list[int]:
    """Count the request against each tier's (limit, rate) in turn, stopping after the first
    tier with a limit exceeded; for each tier counted, the longest wait (0: within its limits).
    Raises ``RateLimitUnavailable`` if the store is down and a counted limit fails closed."""
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return [0] * len(tiers)
    try:
        cache = caches[settings.RATELIMIT_USE_CACHE]
        if isinstance(cache, RedisCache):
            return _count_on_redis(request, cache, tiers)
        return _count_one_by_one(request, tiers)
    except RateLimitUnavailable:
        raise
    except Exception:
        groups = [limit.group for tier in tiers for limit, _rate in tier]
        fail_closed = any(limit.fail_closed for tier in tiers for limit, _rate in tier)
        logger.error(
            "event=ratelimit.unavailable group=%s fail_closed=%s", ",".join(groups), fail_closed
        )
        for tier in tiers:
            for limit, _rate in tier:
                if limit.fail_closed:
                    raise RateLimitUnavailable(limit.group)
        return [0] * len(tiers)


def _key_value(limit: "Limit", request: HttpRequest) -> str:
    if callable(limit.key):
        return limit.key(limit.group, request)
    return _SIMPLE_KEYS[limit.key](request)


def _count_on_redis(request, cache, tiers) -> list[int]:
    keys, args, windows = [], [len(tiers), *(len(tier) for tier in tiers)], []
    for tier in tiers:
        for limit, rate in tier:
            allowed, period = _split_rate(rate)
            value = _key_value(limit, request)
            window = _get_window(value, period)
            keys.append(cache.make_key(_make_cache_key(limit.group, window, rate, value, None)))
            args += [allowed, period + EXPIRATION_FUDGE]
            windows.append((allowed, window))
    if not keys:
        return [0] * len(tiers)
    global _script
    client = cache._cache.get_client(write=True)
    if _script is None:
        _script = client.register_script(_COUNT_SCRIPT)
    counts, now = iter(_script(keys=keys, args=args, client=client)), int(time.time())
    windows, waits = iter(windows), []
    for tier in tiers:
        limits = list(zip(itertools.islice(windows, len(tier)), counts, strict=False))
        exceeded = [window for (allowed, window), count in limits if count > allowed]
        waits.append(max(max(window - now for window in exceeded), 1) if exceeded else 0)
        if exceeded:
            break
    return _logged(tiers, waits)


def _count_one_by_one(request, tiers) -> list[int]:
    waits = []
    for tier in tiers:
        wait = 0
        for limit, rate in tier:
            usage = get_usage(request, group=limit.group, key=limit.key, rate=rate, increment=True)
            if usage is not None and usage["should_limit"]:
                wait = max(wait, usage["time_left"], 1)
        waits.append(wait)
        if wait:
            break
    return _logged(tiers, waits)


def _logged(tiers, waits: list[int]) -> list[int]:
    """``waits`` for every tier (0 for those not counted), the refusal logged."""
    if waits and waits[-1]:
        groups = ",".join(limit.group for limit, _rate in tiers[len(waits) - 1])
        logger.warning("event=ratelimit.exceeded group=%s", groups)
    return waits + [0] * (len(tiers) - len(waits))


def signed_in(request: HttpRequest) -> bool:
    return request.user.is_authenticated


@dataclass(frozen=True)
class _Tier:
    limits: tuple[Limit, ...]
    methods: tuple[str, ...]
    when: Callable[[HttpRequest], bool] | None
    unavailable: Callable[..., HttpResponse] | None


def rate_limit(
    *limits: Limit,
    methods: tuple[str, ...] = ("POST",),
    when: Callable[[HttpRequest], bool] | None = None,
    unavailable: Callable[..., HttpResponse] | None = None,
):
    """The one way a view is rate limited. Requests with one of ``methods`` (and for which
    ``when(request)`` holds) count against every limit; past any of them the answer is
    ``rate_limited``'s 429 with the longest wait as ``Retry-After``. When a fail-closed limit
    cannot be counted, ``unavailable(request, *args, **kwargs)`` answers instead.

    Stacked decorators are checked outermost first, and a request refused by one is not counted
    by the ones below it (e.g. per IP, then per posted e-mail). Decorators stacked directly on
    each other count together, in one round trip to the store."""

    def decorator(view):
        # (tiers, the view they guard, the limited view): merged only when ``view`` is that
        # limited view itself, not another decorator's wrapper that copied its attributes.
        stacked = getattr(view, "_rate_limited", None)
        inner_tiers, target = stacked[:2] if stacked and stacked[2] is view else ((), view)
        tiers = (_Tier(limits, methods, when, unavailable), *inner_tiers)

        @functools.wraps(view)
        def limited_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            refusal = _refusal(tiers, request, args, kwargs)
            if refusal is not None:
                return refusal
            return target(request, *args, **kwargs)

        limited_view._rate_limited = (tiers, target, limited_view)
        return limited_view

    return decorator


def _refusal(tiers, request: HttpRequest, args, kwargs) -> HttpResponse | None:
    """The answer for a request past a limit of ``tiers`` (or whose fail-closed limit cannot
    be counted), or None: the view runs."""
    counted, rates = [], []
    for tier in tiers:
        if request.method not in tier.methods or (tier.when is not None and not tier.when(request)):
            continue
        counted.append(tier)
        rates.append(
            [
                (limit, getattr(settings, limit.rate))
                for limit in tier.limits
                if limit.counts(request)
            ]
        )
    if not counted:
        return None
    try:
        waits = _count_tiers(request, rates)
    except RateLimitUnavailable as error:
        tier = next(t for t in counted if any(limit.group == str(error) for limit in t.limits))
        if tier.unavailable is None:
            raise
        return tier.unavailable(request, *args, **kwargs)
    wait = next((wait for wait in waits if wait), 0)
    return rate_limited(request, retry_after=wait) if wait else None


# When the real wait cannot be known (allauth's limits, when its counters cannot be read): a
# minute.
DEFAULT_RETRY_AFTER = 60


def rate_limited(
    request: HttpRequest, exception: Exception | None = None, *, retry_after: int | None = None
):
    """A limited request: 429 in the site layout, or JSON, with ``Retry-After`` the seconds
    until the limit's window resets (``Limit.wait`` and ``rate_limit`` give them)."""
    seconds = retry_after or getattr(exception, "retry_after", None) or DEFAULT_RETRY_AFTER
    if "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse(
            {"error": "rate_limited", "detail": "Too many requests. Try again later."}, status=429
        )
    else:
        context = {"retry_after": seconds, "wait": _wait_in_words(seconds)}
        response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def _wait_in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = -(-seconds // 60)  # rounded up: never promise less than the wait
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


# allauth's actions by the URL name of the view that counts them.
_ALLAUTH_ACTIONS = {
    "account_login": "login",
    "account_signup": "signup",
    "account_reset_password": "reset_password",
    "account_reset_password_from_key": "reset_password_from_key",
}


def allauth_wait(request: HttpRequest) -> int | None:
    """Seconds until allauth lets this request's action through again: for each of the action's
    rates that is full, until the oldest hit still counting leaves its sliding window. Reads
    allauth's counters through its internal module (no public API); None if that fails."""
    from allauth.core.internal import ratelimit as allauth_ratelimit
    from django.core.cache import cache

    match = getattr(request, "resolver_match", None)
    action = _ALLAUTH_ACTIONS.get(match.url_name if match else "")
    if action is None:
        return None
    try:
        waits = []
        now = time.time()
        for rate in allauth_ratelimit.get_rates(app="allauth.account", action=action):
            key = request.POST.get("email", "").lower() if rate.per == "key" else None
            if rate.per == "key" and not key:
                continue
            cache_key = allauth_ratelimit.get_cache_key(
                request, app="allauth.account", action=action, rate=rate, key=key
            )
            history = [hit for hit in cache.get(cache_key, []) if hit > now - rate.duration]
            if len(history) >= rate.amount:
                waits.append(history[rate.amount - 1] + rate.duration - now)
    except Exception:
        logger.warning("event=ratelimit.allauth_wait_unknown action=%s", action)
        return None
    return max(math.ceil(max(waits)), 1) if waits else None
