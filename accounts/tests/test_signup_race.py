"""Eight people (or one impatient double-clicker) signing up with one new address at the same
instant, with real threads against PostgreSQL: one account, and the others see the usual form
error, never a 500."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8
PASSWORD = "Corr3ct-horse-battery"


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite serialises every writer)")


def _blocked_inserts(cursor) -> int:
    cursor.execute(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
        [User._meta.db_table],
    )
    return cursor.fetchone()[0]


def test_simultaneous_signups_with_one_new_email_create_one_account(settings):
    settings.ACCOUNT_RATE_LIMITS = False
    # Every sign-up passes its "is this address free?" check, then waits at the insert until
    # all of them are there: the table is locked against writes meanwhile (reads go on).
    blocker = connections.create_connection("default")
    blocker.set_autocommit(False)
    with blocker.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {User._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
    started = threading.Barrier(THREADS + 1)

    def sign_up(_):
        client = Client()
        client.raise_request_exception = False
        try:
            started.wait()
            return client.post(
                "/accounts/signup/",
                {"email": "ada@example.com", "password1": PASSWORD, "password2": PASSWORD},
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(sign_up, n) for n in range(THREADS)]
        started.wait()
        with connection.cursor() as cursor:
            deadline = time.monotonic() + 60
            while _blocked_inserts(cursor) + sum(f.done() for f in futures) < THREADS:
                assert time.monotonic() < deadline, "the sign-ups never reached the insert"
                time.sleep(0.05)
        blocker.rollback()
        blocker.close()
        responses = [future.result() for future in futures]

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * (THREADS - 1) + [302]
    for response in responses:
        if response.status_code == 200:
            assert "A user is already registered with this email address." in response.text
    assert User.objects.filter(email="ada@example.com").count() == 1
