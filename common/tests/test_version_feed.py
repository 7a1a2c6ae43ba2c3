"""Shared pages kept in each web process's memory: served with no Redis round trip while the
version feed (Redis pub/sub) proves them current, retired the moment a change is published, and
never trusted without a live subscription. Real Redis, real subscriber threads."""

import json
import os
import time

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import cache as django_cache
from django.http import HttpResponse

from common import page_cache, version_feed, versioned_cache
from common.page_cache import cache_shared_page
from common.testing.feeds import live_version_feed, wait_until


@pytest.fixture
def feed(settings):
    page_cache._local_pages.clear()
    with live_version_feed(settings) as live:
        yield live
    page_cache._local_pages.clear()


def _view(calls: list, body: list):
    @cache_shared_page(
        version_key="test:feed-version", key=lambda request: "test:feed-page", name="t", timeout=60
    )
    def view(request):
        calls.append(request)
        return HttpResponse(body[0])

    return view


def _publish_from_another_process(versions: dict) -> None:
    """What a bump in another web or Celery process does: store, then publish."""
    django_cache.set_many(versions, timeout=None)
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    client.publish(version_feed.channel(), json.dumps(versions))
    client.close()


def test_a_page_in_memory_is_served_without_asking_redis(feed, rf, settings):
    calls, body = [], [b"catalog v1"]
    view = _view(calls, body)
    # The page was rendered and its version learned while the cache was reachable ...
    view(rf.get("/"))
    # ... so with the cache pointed at nothing, the next view still gets it, from memory.
    settings.CACHES = {
        "default": {
            "BACKEND": "common.redis_cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }

    response = view(rf.get("/"))

    assert response.content == b"catalog v1"
    assert len(calls) == 1


def test_a_version_published_by_another_process_retires_the_page_in_memory(feed, rf):
    calls, body = [], [b"old title"]
    view = _view(calls, body)
    view(rf.get("/"))
    view(rf.get("/"))
    body[0] = b"new title"

    _publish_from_another_process({"test:feed-version": "v-after-the-change"})
    wait_until(lambda: feed.known("test:feed-version") == "v-after-the-change", "the message")

    assert view(rf.get("/")).content == b"new title"
    assert len(calls) == 2


def test_this_processs_own_bump_is_known_before_any_message_comes_back(feed, rf):
    calls, body = [], [b"old"]
    view = _view(calls, body)
    view(rf.get("/"))
    body[0] = b"new"

    versioned_cache.bump_versions("test:feed-version", announce=True)

    assert view(rf.get("/")).content == b"new"


def test_only_announced_bumps_are_published(feed):
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(version_feed.channel())
    wait_until(lambda: client.pubsub_numsub(version_feed.channel())[0][1] >= 2, "our listener")

    versioned_cache.bump_versions("affiliates:clicks-version")
    versioned_cache.bump_versions("courses:catalog-version", announce=True)

    heard = []
    wait_until(lambda: heard.append(listener.get_message(timeout=0.1)) or any(heard), "the message")
    message = next(item for item in heard if item)
    assert list(json.loads(message["data"])) == ["courses:catalog-version"]
    listener.close()
    client.close()


def test_without_a_live_subscription_every_view_takes_the_round_trip(feed, rf):
    calls, body = [], [b"v1"]
    view = _view(calls, body)
    view(rf.get("/"))
    feed.stop()
    wait_until(lambda: not feed._alive(time.monotonic()), "the subscription to end")
    # A change whose message nobody hears: only the round trip can see it.
    body[0] = b"v2"
    django_cache.set("test:feed-version", "v-unheard", timeout=None)

    assert view(rf.get("/")).content == b"v2"


def test_a_version_read_while_a_bump_arrived_is_not_kept():
    feed = version_feed.VersionFeed("redis://127.0.0.1:1/0")
    feed._pid = os.getpid()  # no subscriber thread: the test plays its part
    feed._heard()
    before_the_read = feed.generation()

    feed._heard({"k": "v2"})  # the bump's message lands while a reader is still reading ...
    feed.learn("k", "v1", before_the_read)  # ... the version it read before the bump

    assert feed.known("k") == "v2"


def test_a_version_is_trusted_only_for_a_while_without_being_relearned(monkeypatch):
    feed = version_feed.VersionFeed("redis://127.0.0.1:1/0")
    feed._pid = os.getpid()
    feed._heard({"k": "v1"})
    later = time.monotonic() + version_feed.TRUST_SECONDS + 1
    monkeypatch.setattr(version_feed.time, "monotonic", lambda: later)
    feed._heard_at = later  # the subscription is still alive

    assert feed.known("k") is None


def test_the_feed_is_off_unless_turned_on(settings):
    settings.VERSION_FEED = False

    assert version_feed.feed() is None


def test_a_junk_message_on_the_channel_does_not_end_the_subscription(feed):
    """Anything on the channel that is not a map of versions (another program, a bug) must not
    kill the subscriber thread: the process would take the round trip on every view for good."""
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    client.publish(version_feed.channel(), json.dumps([1, 2, 3]))

    def published_and_learned() -> bool:
        client.publish(version_feed.channel(), json.dumps({"test:after-junk": "v2"}))
        return feed.known("test:after-junk") == "v2"

    try:
        wait_until(published_and_learned, "a version published after the junk")
    finally:
        client.close()


def test_each_cache_prefix_and_database_has_its_own_channel(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "common.redis_cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/3",
            "KEY_PREFIX": "school-a",
        }
    }
    assert version_feed.channel() == "school-a:versions:3"
    assert version_feed.VersionFeed("redis://127.0.0.1:6379/3").channel == "school-a:versions:3"

    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": "b"}}
    assert version_feed.channel() == "b:versions:3"
