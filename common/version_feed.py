"""Data versions a process knows without asking Redis on every request.

``common.versioned_cache.bump_versions`` stores a new version and then publishes it on one
Redis channel.
Each web process that serves shared pages keeps one subscriber thread on that channel, and so
learns every new version as it is stored. A page kept in process memory
(``common.page_cache``) is then served while its version is the one this feed knows, with no
round trip.

What the feed knows is only trusted while the subscription is proven alive: the thread pings
Redis every ``PING_SECONDS`` and a version counts only if the last sign of life (a message or a
pong) came within ``ALIVE_SECONDS``. When the connection breaks, everything it knew is dropped
and pages go back to the round trip until it is subscribed again. A version read by a round
trip is kept only if no message arrived while it was read (``learn``), so a slow reader never
puts back a version a bump has replaced. The process that bumps knows its own bump at once.
And as a net under a lost publish (stored, then the connection broke before the publish), a
version is trusted for ``TRUST_SECONDS`` after it was last learned; then one round trip
confirms it.
"""

import json
import logging
import os
import threading
import time
from urllib.parse import urlsplit

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

PING_SECONDS = 1.0
ALIVE_SECONDS = 3.0
RETRY_SECONDS = 1.0
TRUST_SECONDS = 10.0


def channel() -> str:
    """This site's channel. Pub/sub ignores Redis database numbers, so the cache's key prefix
    and database name it: sites (or test runs) sharing one Redis server never hear each other."""
    cache_settings = settings.CACHES["default"]
    database = urlsplit(cache_settings.get("LOCATION", "")).path.strip("/") or "0"
    return f"{cache_settings.get('KEY_PREFIX', '')}:versions:{database}"


class VersionFeed:
    def __init__(self, url: str, channel_name: str | None = None):
        self.url, self.channel = url, channel_name or channel()
        self._known: dict[str, tuple[str, float]] = {}  # key -> (version, learned at)
        self._generation = 0  # moves with every message and every (re)subscription
        self._heard_at = 0.0  # monotonic time of the last message or pong; 0 while not subscribed
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stop = threading.Event()

    # -- what requests ask -------------------------------------------------------------------

    def _alive(self, now: float) -> bool:
        return bool(self._heard_at) and now - self._heard_at < ALIVE_SECONDS

    def known(self, key: str) -> str | None:
        """The current version of ``key`` as published, or None: ask Redis."""
        self._ensure_running()
        now = time.monotonic()
        entry = self._known.get(key)
        if entry is None or not self._alive(now) or now - entry[1] >= TRUST_SECONDS:
            return None
        return entry[0]

    def generation(self) -> int:
        """Take this before a round-trip read of a version, pass it to ``learn`` after."""
        return self._generation

    def learn(self, key: str, value: str, generation: int) -> None:
        """Keep a version read from Redis, unless a message arrived since ``generation``."""
        with self._lock:
            now = time.monotonic()
            if self._generation == generation and self._alive(now):
                self._known[key] = (value, now)

    def update(self, versions: dict[str, str]) -> None:
        """This process's own bump: known at once, before any message comes back."""
        with self._lock:
            self._generation += 1
            now = time.monotonic()
            self._known.update({key: (value, now) for key, value in versions.items()})

    # -- the subscriber thread ------------------------------------------------------------------

    def _ensure_running(self) -> None:
        """One subscriber per process, started on first use (after gunicorn's fork)."""
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            self._pid = pid
            self._known, self._heard_at = {}, 0.0
            thread = threading.Thread(target=self._run, name="version-feed", daemon=True)
            thread.start()

    def _forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._known, self._heard_at = {}, 0.0

    def _heard(self, versions: dict[str, str] | None = None) -> None:
        with self._lock:
            now = self._heard_at = time.monotonic()
            if versions is not None:
                self._generation += 1
                self._known.update({key: (value, now) for key, value in versions.items()})

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except (redis.RedisError, OSError, ValueError) as error:
                logger.warning("event=version_feed.disconnected error=%s", type(error).__name__)
            except Exception:
                # Never let the thread end (a junk message, a client bug): a dead feed would
                # send every view of this process on the round trip for good.
                logger.exception("event=version_feed.failed")
            self._forget()
            self._stop.wait(RETRY_SECONDS)

    def _listen(self) -> None:
        client = redis.Redis.from_url(
            self.url, socket_connect_timeout=1, socket_timeout=PING_SECONDS * 2
        )
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            last_ping = 0.0
            while not self._stop.is_set():
                now = time.monotonic()
                if now - last_ping >= PING_SECONDS:
                    pubsub.ping()
                    last_ping = now
                message = pubsub.get_message(timeout=PING_SECONDS / 2)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self._forget()  # versions read before this could have missed a message
                    self._heard()
                elif message["type"] == "pong":
                    self._heard()
                elif message["type"] == "message":
                    self._heard(json.loads(message["data"]))
        finally:
            pubsub.close()
            client.close()

    def stop(self) -> None:
        """For tests: end the subscriber thread."""
        self._stop.set()


_feed: VersionFeed | None = None
_feed_lock = threading.Lock()  # two threads' first requests must not start two subscribers


def feed() -> VersionFeed | None:
    """The process's feed; None when it is turned off (``VERSION_FEED``: off in tests, where
    Redis is emptied between tests behind the process's back) or the cache is not Redis."""
    global _feed
    if not settings.VERSION_FEED:
        return None
    if _feed is None:
        location = settings.CACHES["default"].get("LOCATION", "")
        if not settings.CACHES["default"]["BACKEND"].endswith("RedisCache") or not location:
            return None
        with _feed_lock:
            if _feed is None:
                _feed = VersionFeed(location)
    return _feed


def announce(versions: dict[str, str]) -> None:
    """New versions, just stored: known here at once, published to every other process.
    Raises the cache's errors (the caller logs them)."""
    current = feed()
    if current is None:
        return
    current.update(versions)
    from django.core.cache import cache

    cache._cache.get_client(write=True).publish(current.channel, json.dumps(versions))
