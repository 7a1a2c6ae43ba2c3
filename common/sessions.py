"""Database sessions read through the cache (Django's ``cached_db`` engine), whose first save is
one INSERT.

A signed-in request reads its session from the cache, one round trip instead of an ORM query;
the database row stays the durable copy: every save writes it first, and a cache miss (or the
cache down) reads it and puts it back in the cache.

- Creation: Django looks a fresh random session key up before using it, then inserts the row
  with ``must_create``, which the primary key refuses if the key exists after all (Django's
  ``create()`` then draws another key). The look-up is a round trip for nothing: the insert
  guarded by the unique index is the check.
- A logout (``flush``) replaces the cached copy with a tombstone *first* and lets a cache
  error propagate (a 503, ``CacheUnavailableMiddleware``), the row untouched: deleting the row
  alone would leave a copy that a cache coming back would serve, a logged-out session alive.
  The old key that signing in replaces (``cycle_key``) goes from both with the cache down
  too: its copy holds what the visitor had before signing in, never the signed-in session. A
  read that missed the cache puts the row back with ``add``, so a request that read the row
  just before a logout deleted it cannot revive the session past the tombstone.
- A save whose cache write fails keeps the row and logs; the older cached copy it leaves lives
  at most ``CACHE_SECONDS``.
"""

import logging

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore
from django.utils.crypto import get_random_string

from .versioned_cache import CACHE_ERRORS

logger = logging.getLogger(__name__)

# How long a cached copy is trusted without the database (shorter when the session expires
# sooner): bounds how stale a copy left by a failed cache write can be.
CACHE_SECONDS = 10 * 60
# What the cache holds for a deleted session, for CACHE_SECONDS (session data is a dict).
DELETED = "deleted"


class SessionStore(CachedDbSessionStore):
    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)

    def _cache_seconds(self, **kwargs) -> int:
        return min(self.get_expiry_age(**kwargs), CACHE_SECONDS)

    def load(self) -> dict:
        try:
            data = self._cache.get(self.cache_key)
        except CACHE_ERRORS:
            logger.error("event=cache.unavailable op=session_load")
            data = None
        if data == DELETED:
            return {}
        if data is not None:
            return data
        row = self._get_session_from_db()
        if row is None:
            return {}
        data = self.decode(row.session_data)
        try:
            # add, not set: a deletion's tombstone (or a newer save) stored meanwhile wins over
            # what this read found.
            self._cache.add(self.cache_key, data, self._cache_seconds(expiry=row.expire_date))
        except CACHE_ERRORS:
            logger.error("event=cache.unavailable op=session_cache")
        return data

    def save(self, must_create: bool = False) -> None:
        super(CachedDbSessionStore, self).save(must_create)  # the row: durable first
        try:
            self._cache.set(self.cache_key, self._session, self._cache_seconds())
        except CACHE_ERRORS:
            logger.error("event=cache.unavailable op=session_save")

    def _bury(self, key: str) -> None:
        """The tombstone: a request that read the row before it went cannot put it back."""
        self._cache.set(self.cache_key_prefix + key, DELETED, CACHE_SECONDS)

    def delete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        if key is None:
            return
        try:
            self._bury(key)
        except CACHE_ERRORS:
            logger.error("event=cache.unavailable op=session_delete")
        super(CachedDbSessionStore, self).delete(key)

    def flush(self) -> None:
        """Logout: the cached copy goes first, or nothing does (see the module's docstring)."""
        if self.session_key is not None:
            self._bury(self.session_key)  # raises when the cache is down
        super().flush()
