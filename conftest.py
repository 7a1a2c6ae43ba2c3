import os

import pytest
from celery.result import allow_join_result
from django.core.cache import cache

from maaledu.celery import app as celery_app


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]
    return f"database: {database['ENGINE']} ({database['NAME']})"


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


def _forget_broker_connections() -> None:
    """Drop the Celery app's cached connection and producer pools, so the next publish connects
    to whatever ``broker_url`` says now."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def redis_down(settings):
    """Redis is not there: the cache (and so every cached page and counter) and the Celery
    broker point at a port nothing listens on, and tasks are published, not run in-process, so
    every ``delay()`` fails as it does in production. Changing CACHES makes Django's test signal
    rebuild the ``caches`` handler, so ``cache`` is the dead one. ``redis_down.end()`` (or the
    end of the test) brings the broker back."""
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CACHES = {
        "default": {
            "BACKEND": "common.redis_cache.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with pytest.raises(Exception):  # noqa: B017 - proves the cache really is unreachable
        cache.get("probe")
    outage = _BrokerOutage(dead)
    try:
        yield outage
    finally:
        outage.end()


class _BrokerOutage:
    """``redis_down`` yields this: ``end()`` brings the broker back (tasks run in-process again),
    so a test can show what the sweeps repair once Redis returns."""

    def __init__(self, dead_url: str) -> None:
        conf = celery_app.conf
        self._saved = conf.task_always_eager, conf.broker_url
        conf.task_always_eager, conf.broker_url = False, dead_url
        _forget_broker_connections()
        self._ended = False

    def end(self) -> None:
        if not self._ended:
            celery_app.conf.task_always_eager, celery_app.conf.broker_url = self._saved
            _forget_broker_connections()
            self._ended = True


@pytest.fixture(autouse=True)
def _media_in_a_temporary_directory(settings, tmp_path_factory):
    """Uploaded files (course covers and their thumbnails) go to a directory of the test's own,
    never into the checkout's media/."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On MongoDB, tests end with ``common.testing.mongodb.reset_to_baseline``, not a flush."""
    from django.conf import settings

    if settings.ON_MONGODB:
        from common.testing import mongodb

        with django_db_blocker.unblock():
            mongodb.remember_baseline()
        mongodb.install()
    yield
