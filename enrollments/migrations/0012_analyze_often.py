from django.db import migrations

from common.pg_statistics import analyze_every


class Migration(migrations.Migration):
    """Pending checkouts come and go all day: the pending partial index's size must not be
    estimated from an ANALYZE that saw none (common/pg_statistics.py)."""

    dependencies = [("enrollments", "0011_pending_unique_keyed_by_status")]

    operations = [analyze_every("enrollments_enrollment")]
