"""The cache helpers and the Redis backend that every cached page and counter goes through."""

import pytest
from django.conf import settings
from django.core.cache import cache as default_cache

from common import versioned_cache


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)")
def test_the_redis_cache_reuses_one_client_and_still_stores_and_reads():
    backend = default_cache._cache

    assert backend.get_client() is backend.get_client()
    default_cache.set("maaledu-test:answer", {"cents": 4200}, timeout=5)
    assert default_cache.get("maaledu-test:answer") == {"cents": 4200}


def test_a_version_is_created_once_and_replaced_by_a_bump():
    first = versioned_cache.version("maaledu-test:version")

    assert versioned_cache.version("maaledu-test:version") == first
    versioned_cache.bump_versions("maaledu-test:version")
    assert versioned_cache.version("maaledu-test:version") not in (None, first)


def test_with_the_cache_down_reads_miss_writes_are_skipped_and_versions_are_none(redis_down):
    versioned_cache.put("maaledu-test:key", 1, timeout=5)
    versioned_cache.bump_versions("maaledu-test:version")

    assert versioned_cache.get("maaledu-test:key") is None
    assert versioned_cache.get_many(["maaledu-test:key"]) == {}
    assert versioned_cache.version("maaledu-test:version") is None
