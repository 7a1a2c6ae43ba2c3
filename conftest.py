import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (catalog pages, rate-limit counters)."""
    cache.clear()
    yield
    cache.clear()
