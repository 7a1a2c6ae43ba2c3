"""Counting requests against a rate (django-ratelimit, counters in the cache = Redis).

Views are limited with the ``rate_limit`` decorator and ``Limit`` counters (the referral-click
middleware counts a ``Limit`` itself). When the cache is down a limit either fails open
(browsing-level limits: the page works and an error is logged) or fails closed (guards against
brute force, such as coupon attempts: the request is refused with a clear message). Each limit
chooses; docs/security.md lists the choices.
"""

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)


class RateLimitUnavailable(Exception):
    """The counter store cannot be reached and this limit fails closed."""


def over_limit(
    request: HttpRequest, *, group: str, key: str, rate: str, fail_closed: bool = False
) -> int:
    """Count this request. Once ``rate`` is exceeded for ``key`` within ``group``: the seconds
    until its window resets (the ``Retry-After`` to send, at least 1); else 0."""
    try:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    except Exception:
        logger.error("event=ratelimit.unavailable group=%s fail_closed=%s", group, fail_closed)
        if fail_closed:
            raise RateLimitUnavailable(group)
        return 0
    if usage is None or not usage["should_limit"]:
        return 0
    logger.warning("event=ratelimit.exceeded group=%s", group)
    return max(usage["time_left"], 1)


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

    def wait(self, request: HttpRequest) -> int:
        """Count this request: 0, or the seconds until the limit lets it through again. A
        request with no key (no e-mail posted) is not counted here: one shared counter for all
        of them would limit every such visitor together (the per-IP limit still counts it)."""
        if self.applies is not None and not self.applies(request):
            return 0
        if callable(self.key) and not self.key(self.group, request):
            return 0
        rate = getattr(settings, self.rate)
        return over_limit(
            request, group=self.group, key=self.key, rate=rate, fail_closed=self.fail_closed
        )


def signed_in(request: HttpRequest) -> bool:
    return request.user.is_authenticated


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
    by the ones below it (e.g. per IP, then per posted e-mail)."""

    def decorator(view):
        @functools.wraps(view)
        def limited_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method in methods and (when is None or when(request)):
                try:
                    wait = max(limit.wait(request) for limit in limits)
                except RateLimitUnavailable:
                    if unavailable is None:
                        raise
                    return unavailable(request, *args, **kwargs)
                if wait:
                    return rate_limited(request, retry_after=wait)
            return view(request, *args, **kwargs)

        return limited_view

    return decorator


# When the real wait cannot be known (allauth's limits, when its counters cannot be read): a
# minute.
DEFAULT_RETRY_AFTER = 60


def rate_limited(
    request: HttpRequest, exception: Exception | None = None, *, retry_after: int | None = None
):
    """A limited request: 429 in the site layout, or JSON, with ``Retry-After`` the seconds
    until the limit's window resets (``common.ratelimits.over_limit`` gives them)."""
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
