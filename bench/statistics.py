"""Planner statistics kept as a production server's autovacuum keeps them.

Production PostgreSQL runs autovacuum, which analyzes a table again once enough of it changed
(its threshold plus its scale factor times its rows; ``common.pg_statistics`` lowers both for
the tables whose partial indexes swing in size). A server running with ``autovacuum = off``
(development machines, this one's included) never does, so plans drift as the loads change the
data: the checkout's conditional update once scanned every pending checkout through a partial
index last analyzed empty (bench/README.md). There, before each measured load, the bench does
what autovacuum would have done by then: ``ANALYZE`` each table changed past its threshold.
That work runs outside the measured window, as autovacuum's does in its own process.
"""

from django.db import connection

# Each user table whose changes since its last ANALYZE pass autovacuum's trigger for it: the
# table's own options where set, else the server's settings.
_DUE_FOR_ANALYZE = """
SELECT s.relname
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.n_mod_since_analyze > COALESCE(
        (SELECT option_value::float FROM pg_options_to_table(c.reloptions)
         WHERE option_name = 'autovacuum_analyze_threshold'),
        current_setting('autovacuum_analyze_threshold')::float)
    + COALESCE(
        (SELECT option_value::float FROM pg_options_to_table(c.reloptions)
         WHERE option_name = 'autovacuum_analyze_scale_factor'),
        current_setting('autovacuum_analyze_scale_factor')::float)
    * GREATEST(c.reltuples, 0)
ORDER BY s.relname
"""


def analyze_as_autovacuum_would() -> list[str]:
    """On a server without autovacuum, analyze the tables it would have analyzed by now; the
    names analyzed (none where autovacuum runs: it does this itself)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "on":
            return []
        cursor.execute(_DUE_FOR_ANALYZE)
        tables = [name for (name,) in cursor.fetchall()]
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return tables
