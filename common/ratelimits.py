"""Counting requests against a rate (django-ratelimit, counters in the cache = Redis).

When the cache is down a limit either fails open (browsing-level limits: the page works and an
error is logged) or fails closed (guards against brute force, such as coupon attempts: the
request is refused with a clear message). Each caller chooses; docs/security.md lists choices.
"""

import logging

from django.http import HttpRequest
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
