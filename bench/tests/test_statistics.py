"""Where the server runs without autovacuum, the bench analyzes before each load what
autovacuum would have analyzed by then, and nothing more."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from bench.statistics import analyze_as_autovacuum_would

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the bench runs on PostgreSQL only (issue 16)")


def _autovacuum_on() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0] == "on"


def _flush_statistics() -> None:
    """This backend's counts of changed rows, visible to the next statement at once."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")


def test_a_table_changed_past_autovacuums_threshold_is_analyzed_once():
    users = get_user_model()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
    _flush_statistics()
    analyze_as_autovacuum_would()  # whatever earlier tests left behind
    _flush_statistics()
    assert "accounts_user" not in analyze_as_autovacuum_would()

    # Past the default trigger of 50 rows plus a tenth of the table.
    users.objects.bulk_create(users(email=f"learner-{n}@example.com") for n in range(200))
    _flush_statistics()
    if _autovacuum_on():
        assert analyze_as_autovacuum_would() == []  # autovacuum does it itself
        return
    assert "accounts_user" in analyze_as_autovacuum_would()
    _flush_statistics()
    assert "accounts_user" not in analyze_as_autovacuum_would()
