"""Versioned cache keys for an affiliate's dashboard.

Its figures are sums over the whole history (commissions, clicks, payouts), too costly to
recompute on every visit once an affiliate has a long history, and its tables are costly to
render. Both are cached under keys that carry the affiliate's version; every service that writes
a commission, click or payout for an affiliate calls ``invalidate`` (now and again after commit,
so a reader between the write and the commit cannot re-cache old figures). With the cache down
everything is computed each time.
"""

from django.db import transaction

from maaledu import cache

# A safety net only: correctness comes from invalidation.
SUMMARY_SECONDS = 10 * 60


def _version_key(affiliate_id: int) -> str:
    return f"affiliates:dashboard-version:{affiliate_id}"


def summary_key(affiliate_id: int) -> str | None:
    """The key under which this affiliate's current figures are cached (None: cache down)."""
    version = cache.version(_version_key(affiliate_id))
    if version is None:
        return None
    return f"affiliates:dashboard:{affiliate_id}:{version}"


def get(key: str | None):
    return cache.get(key)


def put(key: str | None, value) -> None:
    cache.put(key, value, timeout=SUMMARY_SECONDS)


def invalidate(*affiliate_ids: int) -> None:
    keys = [_version_key(pk) for pk in sorted(set(affiliate_ids))]
    if not keys:
        return
    cache.bump_versions(*keys)
    transaction.on_commit(lambda: cache.bump_versions(*keys))
