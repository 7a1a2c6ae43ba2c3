from django.db import migrations

from common.pg_statistics import analyze_every


class Migration(migrations.Migration):
    """Pending grants come and go: the pending partial index's size must not be estimated from
    an ANALYZE that saw none (common/pg_statistics.py)."""

    dependencies = [("grants", "0002_drop_email_claim_columns")]

    operations = [analyze_every("grants_grant")]
