"""A run killed halfway (a real process, SIGKILL) finishes on the next run, nothing twice.

The kill lands at a known document without any timing: the test holds an uncommitted
``LegacyRecord`` for one old enrollment in a connection of its own, so the importer's process
blocks on that unique key inside its transaction for that document. The test waits until
PostgreSQL shows it blocked, kills it, and ends its server session.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from affiliates.models import Commission, Payout
from common.testing.backends import skip_on_mongodb, worker_database_url
from enrollments.models import Enrollment
from grants.models import Grant
from legacy.models import LegacyRecord

from . import old_data as old

BASE_DIR = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 120

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="needs PostgreSQL: another process cannot see SQLite's in-memory test database",
    ),
    skip_on_mongodb(
        "the run is killed at a point found in PostgreSQL's lock table (pg_stat_activity)",
        proven_by=(
            "legacy/tests/test_import.py::"
            "test_losing_the_old_database_mid_run_is_a_clear_error_and_a_rerun_finishes"
        ),
    ),
    pytest.mark.django_db(transaction=True),
]


def _blocked_backend(watcher: psycopg.Connection, blocker: psycopg.Connection) -> int | None:
    """The PostgreSQL backend waiting for the blocker's lock, if there is one yet (read from an
    autocommit connection: pg_stat_activity is a snapshot per transaction)."""
    row = watcher.execute(
        "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
        [blocker.info.backend_pid],
    ).fetchone()
    return row[0] if row else None


def test_a_run_killed_halfway_finishes_next_time_with_nothing_twice(old_db, blockchain_course):
    stop_at = str(old.E_DAVE_FREE)
    blocker = psycopg.connect(worker_database_url())
    watcher = psycopg.connect(worker_database_url(), autocommit=True)
    blocker.execute(
        "INSERT INTO legacy_legacyrecord (collection, legacy_id, target_model, target_id, "
        "imported_at) VALUES ('enrollments', %s, 'x', 'x', now())",
        [stop_at],
    )
    env = {**os.environ, "DATABASE_URL": worker_database_url(), "REDIS_URL": ""}
    env["DJANGO_SETTINGS_MODULE"] = "maaledu.settings.test"
    command = [sys.executable, "manage.py", "import_legacy", "--mongodb-uri", old_db.uri]
    command += ["--database", old_db.name, "--amount-unit", "dollars"]
    process = subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        backend = None
        while backend is None and time.monotonic() < deadline and process.poll() is None:
            backend = _blocked_backend(watcher, blocker)
            time.sleep(0.05)
        assert backend is not None, process.stderr.read().decode() if process.poll() else "?"
        process.send_signal(signal.SIGKILL)
        process.wait()
        watcher.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
        blocker.rollback()
        blocker.close()
        watcher.close()

    # Killed halfway: users, courses, affiliates and the enrollments before it are in.
    done = set(
        LegacyRecord.objects.filter(collection="enrollments").values_list("legacy_id", flat=True)
    )
    before = (old.E_ANN, old.E_BOB_FAILED_SYNC, old.E_CAROL_AFFILIATE, old.E_BOB_REFUNDED)
    assert done == {str(object_id) for object_id in before}
    assert not Enrollment.objects.filter(email="dave@example.com").exists()
    assert not Grant.objects.exists()
    assert LegacyRecord.objects.filter(collection="users").count() == 8

    text, _ = old_db.run()
    assert "Nothing to import" not in text
    text, _ = old_db.run()  # and then nothing is left
    assert "Nothing to import" in text

    assert Enrollment.objects.count() == 8
    assert LegacyRecord.objects.filter(collection="enrollments").count() == 8
    assert Commission.objects.count() == 3
    assert Payout.objects.count() == 1
    assert Grant.objects.count() == 7
    assert (
        Enrollment.objects.filter(email="dave@example.com", course=blockchain_course).count() == 1
    )
