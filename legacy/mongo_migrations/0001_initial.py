import django_mongodb_backend.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="LegacyRecord",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("collection", models.CharField(max_length=40)),
                ("legacy_id", models.CharField(max_length=64, verbose_name="old _id")),
                ("target_model", models.CharField(help_text='e.g. "accounts.user"', max_length=60)),
                ("target_id", models.CharField(max_length=64)),
                ("imported_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["collection", "legacy_id"],
                "indexes": [
                    models.Index(
                        fields=["target_model", "target_id"], name="legacy_record_target_idx"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("collection", "legacy_id"), name="legacy_record_once_per_document"
                    )
                ],
            },
        ),
    ]
