"""Counting requests against a rate (django-ratelimit, counters in the cache = Redis).

When the cache is down a limit either fails open (browsing-level limits: the page works and an
error is logged) or fails closed (guards against brute force, such as coupon attempts: the
request is refused with a clear message). Each caller chooses; docs/security.md lists choices.
"""

import logging

from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

logger = logging.getLogger(__name__)


class RateLimitUnavailable(Exception):
    """The counter store cannot be reached and this limit fails closed."""


def over_limit(
    request: HttpRequest, *, group: str, key: str, rate: str, fail_closed: bool = False
) -> bool:
    """Count this request; True once ``rate`` is exceeded for ``key`` within ``group``."""
    try:
        return is_ratelimited(request, group=group, key=key, rate=rate, increment=True)
    except Exception:
        logger.error("event=ratelimit.unavailable group=%s fail_closed=%s", group, fail_closed)
        if fail_closed:
            raise RateLimitUnavailable(group)
        return False
