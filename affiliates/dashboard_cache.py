"""Versioned cache keys for an affiliate's dashboard figures.

The figures are sums over the whole history (commissions, clicks, payouts), too costly to
recompute on every visit once an affiliate has a long history. They are cached under a key that
carries the affiliate's version; every service that writes a commission, click or payout for an
affiliate calls ``invalidate`` (now and again after commit, so a reader between the write and
the commit cannot re-cache old figures). With the cache down the figures are computed each time.
"""

import logging
import uuid

import redis
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

_CACHE_ERRORS = (redis.RedisError, OSError)
# A safety net only: correctness comes from invalidation.
SUMMARY_SECONDS = 10 * 60


def _version_key(affiliate_id: int) -> str:
    return f"affiliates:dashboard-version:{affiliate_id}"


def summary_key(affiliate_id: int) -> str | None:
    """The key under which this affiliate's current figures are cached (None: cache down)."""
    try:
        version = cache.get(_version_key(affiliate_id))
        if version is None:
            version = uuid.uuid4().hex
            cache.add(_version_key(affiliate_id), version, timeout=None)
            version = cache.get(_version_key(affiliate_id), version)
    except _CACHE_ERRORS:
        logger.error("event=cache.unavailable op=dashboard_version")
        return None
    return f"affiliates:dashboard:{affiliate_id}:{version}"


def get(key: str | None):
    if key is None:
        return None
    try:
        return cache.get(key)
    except _CACHE_ERRORS:
        logger.error("event=cache.unavailable op=dashboard_get")
        return None


def put(key: str | None, value) -> None:
    if key is None:
        return
    try:
        cache.set(key, value, timeout=SUMMARY_SECONDS)
    except _CACHE_ERRORS:
        logger.error("event=cache.unavailable op=dashboard_set")


def _bump(affiliate_ids) -> None:
    try:
        cache.set_many({_version_key(pk): uuid.uuid4().hex for pk in affiliate_ids}, timeout=None)
    except _CACHE_ERRORS:
        logger.error("event=cache.unavailable op=dashboard_invalidate")


def invalidate(*affiliate_ids: int) -> None:
    ids = sorted(set(affiliate_ids))
    if not ids:
        return
    _bump(ids)
    transaction.on_commit(lambda: _bump(ids))
