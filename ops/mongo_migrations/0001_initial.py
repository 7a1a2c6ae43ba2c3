import django.utils.timezone
import django_mongodb_backend.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="ReconciliationRun",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("since", models.DateTimeField(help_text="Start of the compared window.")),
                ("dry_run", models.BooleanField(default=False)),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("counts", models.JSONField(default=dict, help_text="Findings by kind.")),
                (
                    "items",
                    models.JSONField(
                        default=list, help_text="Each finding: kind, ref, detail, repaired."
                    ),
                ),
                ("unrepaired", models.PositiveIntegerField(default=0)),
            ],
            options={
                "ordering": ["-started_at"],
            },
        ),
        migrations.CreateModel(
            name="Incident",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("lms_failures", "LMS syncs failing"),
                            ("lms_overdue", "Paid enrollments waiting for the LMS"),
                            ("stripe_event_failed", "Stripe event failed processing"),
                            ("webhooks_silent", "No Stripe webhook while checkouts start"),
                            ("reconciliation_drift", "Reconciliation found drift to fix by hand"),
                            ("payment_review", "Paid checkouts waiting for staff review"),
                            ("lms_config", "LMS credentials or site rejected"),
                            ("lms_mapping", "LMS course mapping rejected"),
                            ("lms_gave_up", "LMS sync jobs failed"),
                        ],
                        max_length=32,
                    ),
                ),
                (
                    "key",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text="What it is about (a course), or ''.",
                        max_length=100,
                    ),
                ),
                ("opened_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
                ("is_open", models.BooleanField(default=True, editable=False)),
                (
                    "last_detail",
                    models.TextField(blank=True, help_text="What the latest check found."),
                ),
            ],
            options={
                "ordering": ["-opened_at"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("is_open", True)),
                        fields=("kind", "key"),
                        name="incident_one_open_per_kind_and_key",
                    )
                ],
            },
        ),
    ]
