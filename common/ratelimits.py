"""Counting requests against a rate (django-ratelimit, counters in the cache = Redis).

When the cache is down a limit either fails open (browsing-level limits: the page works and an
error is logged) or fails closed (guards against brute force, such as coupon attempts: the
request is refused with a clear message). Each caller chooses; docs/security.md lists choices.
"""

import logging
import math
import time

from django.http import HttpRequest, JsonResponse
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


def over_ip_or_email_limit(
    request: HttpRequest, *, group: str, ip_rate: str, email_rate: str
) -> int:
    """A form guarded per client IP and per posted e-mail; fails open (error logged). The wait
    as ``over_limit``'s."""
    return over_limit(request, group=f"{group}-ip", key="ip", rate=ip_rate) or over_limit(
        request, group=f"{group}-email", key=posted_email_key, rate=email_rate
    )


# When the real wait cannot be known (django-ratelimit's own decorator): a minute.
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
