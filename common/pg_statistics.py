"""Planner statistics that keep up with tables whose partial indexes swing in size.

PostgreSQL sizes a partial index from the density its table's last ANALYZE saw. Analyzed while
the index was empty (no pending checkout after a quiet night, a fresh deploy), the index looks
free to scan however large it grows, and a conditional update such as
``UPDATE … WHERE id = 42 AND status = 'pending'`` walks every pending row through it instead of
taking the primary key: 16 ms of database CPU per checkout at 11,000 pending checkouts, growing
with them (bench/README.md). Autovacuum analyzes a table again once a tenth of it changed (50,000
rows of a 500,000-row table); ``analyze_every`` makes that a fixed number of changed rows, so the
estimate catches up within autovacuum's naptime (a minute) whatever the table's size.
PostgreSQL only: SQLite and MongoDB plan these statements without such statistics.
"""

from django.db import migrations

# Changed rows between two analyzes of a table using ``analyze_every``: an ANALYZE samples a
# fixed 30,000 rows (tens of milliseconds), and up to this many unseen rows in a partial index
# cost a statement at most a few milliseconds.
ANALYZE_AFTER_ROWS = 1000


def analyze_every(table: str, rows: int = ANALYZE_AFTER_ROWS) -> migrations.RunPython:
    """A migration operation: autovacuum analyzes ``table`` after every ``rows`` changed rows."""

    def set_options(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            options = f"autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = {rows}"
            schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} SET ({options})")

    def reset_options(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"ALTER TABLE {schema_editor.quote_name(table)} RESET"
                " (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)"
            )

    return migrations.RunPython(set_options, reset_options)
