from django.db import migrations

from common.pg_statistics import analyze_every


class Migration(migrations.Migration):
    """Pending commissions and rows whose totals are stale come and go with every sale: their
    partial indexes' sizes must not be estimated from an ANALYZE that saw none
    (common/pg_statistics.py)."""

    dependencies = [("affiliates", "0006_payable_index_without_is_null")]

    operations = [analyze_every("affiliates_commission")]
