import django.db.models.deletion
import django.utils.timezone
import django_mongodb_backend.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("enrollments", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="LmsUserErasure",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "email_hash",
                    models.CharField(
                        help_text="SHA-256 of the e-mail.", max_length=64, unique=True
                    ),
                ),
                (
                    "email",
                    models.EmailField(
                        blank=True, help_text="Blanked once the LMS user is gone.", max_length=254
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("in_progress", "In progress"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=12,
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("lease_token", models.CharField(blank=True, max_length=32)),
                ("lease_until", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("done_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "verbose_name": "LMS user erasure",
                "ordering": ["-created_at"],
                "indexes": [
                    models.Index(fields=["status", "next_attempt_at"], name="lms_erasure_due_idx")
                ],
            },
        ),
        migrations.CreateModel(
            name="LmsSyncJob",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("enrol", "Enrol"),
                            ("unenrol", "Unenrol"),
                            ("suspend", "Suspend (keep progress)"),
                        ],
                        default="enrol",
                        max_length=8,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("in_progress", "In progress"),
                            ("synced", "Synced"),
                            ("waiting_config", "Waiting for configuration"),
                            ("failed", "Failed"),
                            ("superseded", "Superseded"),
                            ("cancelled", "Not needed (account deleted)"),
                        ],
                        default="pending",
                        max_length=16,
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("lease_token", models.CharField(blank=True, max_length=32)),
                ("lease_until", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("lms_enrollment_name", models.CharField(blank=True, max_length=140)),
                ("synced_at", models.DateTimeField(blank=True, null=True)),
                ("progress", models.FloatField(blank=True, null=True)),
                (
                    "current_lesson",
                    models.CharField(
                        blank=True,
                        help_text="The LMS lesson to resume, kept while access is suspended.",
                        max_length=140,
                    ),
                ),
                ("progress_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "enrollment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="enrollments.enrollment",
                    ),
                ),
            ],
            options={
                "verbose_name": "LMS sync job",
                "verbose_name_plural": "LMS sync jobs",
                "ordering": ["-created_at"],
                "indexes": [
                    models.Index(fields=["status", "next_attempt_at"], name="lms_sync_job_due_idx")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("enrollment", "action"),
                        name="lms_sync_job_one_per_enrollment_action",
                    )
                ],
            },
        ),
    ]
