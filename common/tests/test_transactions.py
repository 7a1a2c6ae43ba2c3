"""common.transactions: what a block of writes means on each backend (docs/mongodb.md), and an
insert a unique index may refuse."""

import subprocess
import sys

import pytest
from django.conf import settings
from django.db import DatabaseError, connection

from common.models import OutboxEmail
from common.testing.backends import on_mongodb_only, skip_on_mongodb
from common.transactions import (
    TransactionConflict,
    atomic,
    insert_unless_present,
    retry_transient,
)
from fakes import mongo_server
from ops.models import Incident

WITH_A_REPLICA_SET = [sys.executable, "-m", "fakes.with_mongo", "--replica-set"]


class Crash(Exception):
    pass


def _open_two_incidents_then_crash():
    with pytest.raises(Crash), atomic():
        Incident.objects.create(kind=Incident.Kind.LMS_CONFIG)
        Incident.objects.create(kind=Incident.Kind.LMS_MAPPING)
        raise Crash


@skip_on_mongodb(
    "a standalone server has no transactions",
    proven_by="common/tests/test_transactions.py::test_on_a_mongodb_replica_set_a_block_is_one_transaction",
)
@pytest.mark.django_db(transaction=True)
def test_on_sql_a_failed_block_leaves_nothing():
    _open_two_incidents_then_crash()
    assert not Incident.objects.exists()


@on_mongodb_only
@pytest.mark.django_db
def test_on_a_standalone_mongodb_each_write_commits_alone():
    # This is what a standalone server loses; every step is written to be safe to re-run.
    _open_two_incidents_then_crash()
    assert Incident.objects.count() == 2


@pytest.mark.skipif(
    mongo_server.mongoeco_python() is None,
    reason="needs mongoeco (make mongo-deps) for a replica-set server",
)
def test_on_a_mongodb_replica_set_a_block_is_one_transaction():
    # Given a server that is a replica set's primary, as Atlas always is
    result = subprocess.run(
        [*WITH_A_REPLICA_SET, sys.executable, "-m", "common.tests.replica_set_probe"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=settings.BASE_DIR,
    )
    # Then a block opens a transaction: all or nothing, and on_commit waits for the commit
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        "replica set: transactions supported",
        "a failed block leaves nothing",
        "a block commits its writes together, then runs its on_commit callbacks",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_repeat_refused_by_a_unique_index_inside_a_transaction_leaves_the_first_and_the_rest():
    with atomic():
        first = insert_unless_present(OutboxEmail(key="k", template="first", to="a@example.com"))
        repeat = insert_unless_present(OutboxEmail(key="k", template="repeat", to="b@example.com"))
        # The transaction is still usable after the refusal (no savepoint was needed on SQL).
        Incident.objects.create(kind=Incident.Kind.LMS_CONFIG)

    assert (first, repeat) == (True, False)
    assert list(OutboxEmail.objects.values_list("template", "to")) == [("first", "a@example.com")]
    assert Incident.objects.count() == 1


def _write_conflict(*labels: str):
    """What pymongo raises when a MongoDB replica set failed a transaction's commit."""
    from pymongo.errors import OperationFailure

    return OperationFailure(
        "Write conflict during transaction commit", 112, {"errorLabels": list(labels)}
    )


def _failing(times: int, error: Exception):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return fn, calls


@pytest.mark.django_db
def test_a_transaction_failed_with_a_transient_label_runs_again_until_it_commits():
    fn, calls = _failing(2, _write_conflict("TransientTransactionError"))

    assert retry_transient(fn, attempts=3) == "done"
    assert len(calls) == 3


@pytest.mark.django_db
def test_a_transaction_that_keeps_conflicting_ends_in_a_conflict_after_its_attempts():
    fn_labelled, labelled_calls = _failing(5, _write_conflict("TransientTransactionError"))

    with pytest.raises(TransactionConflict):
        retry_transient(fn_labelled, attempts=3)
    # Django's DatabaseError wrapping the labelled pymongo error counts too.
    wrapped = DatabaseError("conflict")
    wrapped.__cause__ = _write_conflict("TransientTransactionError")
    fn_wrapped, wrapped_calls = _failing(5, wrapped)
    with pytest.raises(TransactionConflict):
        retry_transient(fn_wrapped, attempts=2)

    assert (len(labelled_calls), len(wrapped_calls)) == (3, 2)


@pytest.mark.django_db
def test_an_error_that_may_have_committed_or_is_not_transient_is_never_retried():
    # UnknownTransactionCommitResult: the commit may have been applied, so running the
    # transaction again could do it twice.
    for error in (
        _write_conflict("UnknownTransactionCommitResult"),
        _write_conflict(),
        DatabaseError("deadlock detected"),  # PostgreSQL's: the caller decides
    ):
        fn, calls = _failing(1, error)
        with pytest.raises(type(error)):
            retry_transient(fn)
        assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_inside_an_open_mongodb_transaction_only_the_outermost_block_could_run_again():
    fn, calls = _failing(1, _write_conflict("TransientTransactionError"))

    with pytest.raises(Exception, match="Write conflict"), atomic():
        if not getattr(connection, "in_atomic_block_mongo", False):
            pytest.skip("no MongoDB transaction here: run under fakes.with_mongo --replica-set")
        retry_transient(fn)

    assert len(calls) == 1
