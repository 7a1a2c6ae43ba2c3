"""Eight people (or one impatient double-clicker) signing up with one new address at the same
instant, with real threads: one account, and the others see the usual form error, never a 500.
On PostgreSQL a table lock holds every sign-up at its insert; on MongoDB the threads race
freely, each spelling the address its own way."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.test import Client

from accounts.models import User
from common.testing.backends import skip_on_mongodb
from common.testing.concurrency import concurrent_database, race  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8
PASSWORD = "Corr3ct-horse-battery"


def _blocked_inserts(cursor) -> int:
    cursor.execute(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
        [User._meta.db_table],
    )
    return cursor.fetchone()[0]


@pytest.mark.usefixtures("concurrent_database")
@skip_on_mongodb(
    "no table lock (LOCK TABLE, pg_locks) to hold every sign-up at its insert",
    proven_by="accounts/tests/test_signup_race.py::"
    "test_simultaneous_signups_with_spellings_of_one_email_create_one_account",
)
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


@pytest.mark.usefixtures("concurrent_database")
def test_simultaneous_signups_with_spellings_of_one_email_create_one_account(settings):
    settings.ACCOUNT_RATE_LIMITS = False
    spellings = [
        "ada@example.com",
        "Ada@example.com",
        "ADA@EXAMPLE.COM",
        "ada@Example.com",
        " ada@example.com",
        "aDa@example.com",
        "adA@example.COM",
        "Ada@Example.Com",
    ]

    def sign_up(email):
        client = Client()
        client.raise_request_exception = False
        try:
            return client.post(
                "/accounts/signup/",
                {"email": email, "password1": PASSWORD, "password2": PASSWORD},
            )
        finally:
            connection.close()

    responses = race(sign_up, args=spellings)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * (len(spellings) - 1) + [302]
    for response in responses:
        if response.status_code == 200:
            assert "A user is already registered with this email address." in response.text
    assert list(User.objects.values_list("email", flat=True)) == ["ada@example.com"]
