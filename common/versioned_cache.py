"""The cache makes pages fast; it is never needed for them to be right.

Every read and write here survives an unreachable cache (Redis down): a read is a miss, a write
is skipped, and an error is logged, so the caller falls back to the database. Cached values live
under versioned keys: replacing a version (``bump_versions``) retires every key built on it.
"""

import logging
import uuid

import redis
from django.core.cache import cache
from django.db import transaction

from . import version_feed
from .transactions import in_transaction

logger = logging.getLogger(__name__)

CACHE_ERRORS = (redis.RedisError, OSError)


def get(key: str | None):
    """The cached value, or None on a miss, for a None key or when the cache is down."""
    if key is None:
        return None
    try:
        return cache.get(key)
    except CACHE_ERRORS:
        logger.error("event=cache.unavailable op=get")
        return None


def get_many(keys: list[str]) -> dict:
    """The cached values of ``keys`` in one round trip (missing keys absent; {} when down)."""
    try:
        return cache.get_many(keys)
    except CACHE_ERRORS:
        logger.error("event=cache.unavailable op=get_many")
        return {}


def put(key: str | None, value, *, timeout: int) -> None:
    if key is None:
        return
    try:
        cache.set(key, value, timeout=timeout)
    except CACHE_ERRORS:
        logger.error("event=cache.unavailable op=set")


def version(key: str, *, timeout: int | None = None) -> str | None:
    """The version stored under ``key``, created when missing (kept ``timeout`` seconds, None:
    for good); None when the cache is down.

    ``add`` keeps the first of two racing creators, and both go on with the one stored.
    """
    try:
        current = cache.get(key)
        if current is None:
            cache.add(key, uuid.uuid4().hex, timeout=timeout)
            current = cache.get(key)
    except CACHE_ERRORS:
        logger.error("event=cache.unavailable op=version")
        return None
    return current


def current_version(key: str) -> str | None:
    """``key``'s version: from this process's version feed when it knows it (no round trip),
    else read from the cache (created when missing) and taught to the feed; None when the
    cache is down. For data kept in process memory under the version it was read with."""
    feed = version_feed.feed()
    known = feed.known(key) if feed is not None else None
    if known is not None:
        return known
    generation = feed.generation() if feed is not None else 0
    current = version(key)
    if feed is not None and current is not None:
        feed.learn(key, current, generation)
    return current


def versions(*keys: str) -> dict[str, str] | None:
    """``version`` of several keys, in one round trip when they all exist; None when down."""
    found = get_many(list(keys))
    missing = [key for key in keys if found.get(key) is None]
    for key in missing:
        found[key] = version(key)
        if found[key] is None:
            return None
    return {key: found[key] for key in keys}


def bump_versions(*keys: str, announce: bool = False, timeout: int | None = None) -> None:
    """Give each version key a new value, retiring everything cached under the old one.

    ``announce``: the key versions shared pages that web processes keep in memory
    (``page_cache``): the new value is also published to them (``version_feed``). Other keys
    are not, so a per-click bump costs no message to every process. ``timeout``: as
    ``version``'s (a key that expires is created anew, which retires what it versioned).
    """
    versions = {key: uuid.uuid4().hex for key in keys}
    try:
        cache.set_many(versions, timeout=timeout)
        if announce:
            version_feed.announce(versions)
    except CACHE_ERRORS:
        logger.error("event=cache.unavailable op=bump_versions")


def bump_versions_after_commit_too(*keys: str, timeout: int | None = None) -> None:
    """``bump_versions`` now, and again after the open transaction commits (none open: the
    write has committed already, so the bump now came after it). The bump now keeps readers
    from serving what the write replaces; the one after the commit retires what a reader
    cached from the database while the transaction was still open."""
    if not keys:
        return
    bump_versions(*keys, timeout=timeout)
    if in_transaction():
        # Robust: another callback of the transaction failing must not leave this one out.
        transaction.on_commit(lambda: bump_versions(*keys, timeout=timeout), robust=True)
