"""Incidents carry ``is_open``: the one-open-incident rule becomes a partial unique index on an
equality (MongoDB cannot index ``IS NULL``). Resolved incidents are closed before it is built."""

from django.db import migrations, models


def close_resolved(apps, schema_editor):
    apps.get_model("ops", "Incident").objects.filter(resolved_at__isnull=False).update(
        is_open=False
    )


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0005_incident_key"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="incident",
            name="incident_one_open_per_kind_and_key",
        ),
        migrations.AddField(
            model_name="incident",
            name="is_open",
            field=models.BooleanField(default=True, editable=False),
        ),
        migrations.RunPython(close_resolved, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="incident",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_open", True)),
                fields=("kind", "key"),
                name="incident_one_open_per_kind_and_key",
            ),
        ),
    ]
