import pytest
from django.db import connection

from common.pg_statistics import ANALYZE_AFTER_ROWS

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="planner statistics of PostgreSQL only"
    ),
]


@pytest.mark.parametrize(
    "table", ["enrollments_enrollment", "affiliates_commission", "grants_grant"]
)
def test_tables_with_swinging_partial_indexes_are_analyzed_after_a_fixed_number_of_changes(
    table,
):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [table])
        (options,) = cursor.fetchone()
    assert sorted(options) == sorted(
        [
            "autovacuum_analyze_scale_factor=0",
            f"autovacuum_analyze_threshold={ANALYZE_AFTER_ROWS}",
        ]
    )
