"""A live version feed (``common.version_feed``) for tests of what web processes keep in memory:
real Redis, a real subscriber thread."""

import contextlib
import time
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings

from common import version_feed

WAIT_SECONDS = 10  # the most a subscriber may take to answer on loopback; not a timing claim


def wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.01)


@contextlib.contextmanager
def live_version_feed(test_settings) -> Iterator[version_feed.VersionFeed]:
    """The process's feed, subscribed, for the duration (``test_settings``: pytest-django's
    ``settings`` fixture, so ``VERSION_FEED`` is switched back on afterwards); skips without
    Redis."""
    if not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        pytest.skip("the version feed needs Redis: set REDIS_URL")
    test_settings.VERSION_FEED = True
    live = version_feed.VersionFeed(settings.CACHES["default"]["LOCATION"])
    version_feed._feed = live
    live.known("warm-up")  # starts the subscriber
    wait_until(lambda: live._alive(time.monotonic()), "the subscription")
    try:
        yield live
    finally:
        live.stop()
        version_feed._feed = None
