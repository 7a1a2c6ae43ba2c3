"""The cache helpers and the Redis backend that every cached page and counter goes through."""

import pytest
from django.conf import settings
from django.core.cache import cache as default_cache

from maaledu import cache


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)")
def test_the_redis_cache_reuses_one_client_and_still_stores_and_reads():
    backend = default_cache._cache

    assert backend.get_client() is backend.get_client()
    default_cache.set("maaledu-test:answer", {"cents": 4200}, timeout=5)
    assert default_cache.get("maaledu-test:answer") == {"cents": 4200}


def test_a_version_is_created_once_and_replaced_by_a_bump():
    first = cache.version("maaledu-test:version")

    assert cache.version("maaledu-test:version") == first
    cache.bump_versions("maaledu-test:version")
    assert cache.version("maaledu-test:version") not in (None, first)


def test_with_the_cache_down_reads_miss_writes_are_skipped_and_versions_are_none(redis_down):
    cache.put("maaledu-test:key", 1, timeout=5)
    cache.bump_versions("maaledu-test:version")

    assert cache.get("maaledu-test:key") is None
    assert cache.get_many(["maaledu-test:key"]) == {}
    assert cache.version("maaledu-test:version") is None
