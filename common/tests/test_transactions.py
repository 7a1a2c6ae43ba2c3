"""common.transactions: what a block of writes means on each backend (docs/mongodb.md), and an
insert a unique index may refuse."""

import subprocess
import sys

import pytest
from django.conf import settings

from common.models import OutboxEmail
from common.testing.backends import on_mongodb_only, skip_on_mongodb
from common.transactions import atomic, insert_unless_present
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
