import os

import pytest
from celery.result import allow_join_result
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (catalog pages, rate-limit counters)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _eager_results_can_be_read():
    """Each test may call `.get()` on an eager task's result.

    Celery's `Task.apply` guards its run with a process-wide "joining would block" flag that it
    saves and restores without a lock, so two threads applying tasks at once (the concurrency
    tests, whose on-commit hooks run tasks eagerly) can leave it set for good; every later
    `.get()` in the process would then fail with "Never call result.get() within a task!".
    """
    with allow_join_result():
        yield


@pytest.fixture
def redis_down(settings):
    """The cache (and so every cached page and counter) points at a Redis that is not there.
    Changing CACHES makes Django's test signal rebuild the ``caches`` handler, so ``cache`` is
    the dead one."""
    settings.CACHES = {
        "default": {
            "BACKEND": "maaledu.redis_cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with pytest.raises(Exception):  # noqa: B017 - proves the cache really is unreachable
        cache.get("probe")


@pytest.fixture(scope="session")
def mongodb_server():
    """A MongoDB wire-protocol server for the session (``fakes/mongo_server.py``): a real mongod
    when one is on PATH, else mongoeco from ``make mongo-deps``. Without either the tests using
    it skip with the reason, except under CI (``CI`` set), where that is a failure."""
    from fakes.mongo_server import MongoServerUnavailable, start_mongo_server

    try:
        server = start_mongo_server()
    except MongoServerUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"{error} (CI must run the MongoDB tests)", pytrace=False)
        pytest.skip(str(error))
    yield server
    server.stop()
