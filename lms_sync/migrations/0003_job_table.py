"""LMS sync jobs get their own table, owned by lms_sync; the state on Enrollment is copied in.

Each enrollment with a job (``lms_status`` set) gets a row for its action with its state; a
suspended or unenrolled one also gets a superseded enrol job, which keeps the learner's progress
(a won dispute enrols again with it). A paid enrollment with no job (its account was deleted
before the job ran) gets a cancelled enrol job, so the new sweep does not create one. The
columns are dropped afterwards by enrollments 0008. LmsAlert goes (ops.Incident keeps LMS
incidents now); an alert open at deploy is opened again in ops by the next failure.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


BATCH = 1000
STATE_FIELDS = (
    "lms_status",
    "lms_action",
    "lms_attempts",
    "lms_next_attempt_at",
    "lms_lease_token",
    "lms_lease_until",
    "lms_last_error",
    "lms_enrollment_name",
    "lms_synced_at",
    "lms_progress",
    "lms_current_lesson",
    "lms_progress_at",
)


def copy_jobs(apps, schema_editor):
    Enrollment = apps.get_model("enrollments", "Enrollment")
    LmsSyncJob = apps.get_model("lms_sync", "LmsSyncJob")
    rows = (
        Enrollment.objects.exclude(lms_status="", status__in=["pending", "failed", "expired",
                                                              "canceled", "refunded"])
        .order_by("pk")
        .values("pk", "status", "updated_at", *STATE_FIELDS)
    )
    batch = []
    for row in rows.iterator(chunk_size=BATCH):
        progress = {
            "progress": row["lms_progress"],
            "current_lesson": row["lms_current_lesson"],
            "progress_at": row["lms_progress_at"],
        }
        if row["lms_status"] == "":
            batch.append(
                LmsSyncJob(
                    enrollment_id=row["pk"], action="enrol", status="cancelled", **progress
                )
            )
        else:
            batch.append(
                LmsSyncJob(
                    enrollment_id=row["pk"],
                    action=row["lms_action"],
                    status=row["lms_status"],
                    attempts=row["lms_attempts"],
                    next_attempt_at=row["lms_next_attempt_at"],
                    lease_token=row["lms_lease_token"],
                    lease_until=row["lms_lease_until"],
                    last_error=row["lms_last_error"],
                    lms_enrollment_name=row["lms_enrollment_name"],
                    synced_at=row["lms_synced_at"],
                    created_at=row["updated_at"],
                    updated_at=row["updated_at"],
                    **(progress if row["lms_action"] == "enrol" else {}),
                )
            )
            if row["lms_action"] != "enrol":
                batch.append(
                    LmsSyncJob(
                        enrollment_id=row["pk"],
                        action="enrol",
                        status="superseded",
                        created_at=row["updated_at"],
                        updated_at=row["updated_at"],
                        **progress,
                    )
                )
        if len(batch) >= BATCH:
            LmsSyncJob.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        LmsSyncJob.objects.bulk_create(batch, ignore_conflicts=True)


def copy_back(apps, schema_editor):
    """Reversing: the current job's state goes back onto the enrollment."""
    Enrollment = apps.get_model("enrollments", "Enrollment")
    LmsSyncJob = apps.get_model("lms_sync", "LmsSyncJob")
    for job in LmsSyncJob.objects.exclude(status="superseded").order_by("updated_at", "pk"):
        enrol = LmsSyncJob.objects.filter(enrollment_id=job.enrollment_id, action="enrol").first()
        Enrollment.objects.filter(pk=job.enrollment_id).update(
            lms_status="" if job.status == "cancelled" else job.status,
            lms_action=job.action,
            lms_attempts=job.attempts,
            lms_next_attempt_at=job.next_attempt_at,
            lms_lease_token=job.lease_token,
            lms_lease_until=job.lease_until,
            lms_last_error=job.last_error,
            lms_enrollment_name=job.lms_enrollment_name,
            lms_synced_at=job.synced_at,
            lms_progress=enrol.progress if enrol else None,
            lms_current_lesson=enrol.current_lesson if enrol else "",
            lms_progress_at=enrol.progress_at if enrol else None,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('enrollments', '0007_enrollment_tax_and_invoice'),
        ('lms_sync', '0002_lms_user_erasure'),
    ]

    operations = [
        migrations.DeleteModel(
            name='LmsSyncJob',
        ),
        migrations.CreateModel(
            name='LmsSyncJob',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(choices=[('enrol', 'Enrol'), ('unenrol', 'Unenrol'), ('suspend', 'Suspend (keep progress)')], default='enrol', max_length=8)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('in_progress', 'In progress'), ('synced', 'Synced'), ('waiting_config', 'Waiting for configuration'), ('failed', 'Failed'), ('superseded', 'Superseded'), ('cancelled', 'Not needed (account deleted)')], default='pending', max_length=16)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('lease_token', models.CharField(blank=True, max_length=32)),
                ('lease_until', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('lms_enrollment_name', models.CharField(blank=True, max_length=140)),
                ('synced_at', models.DateTimeField(blank=True, null=True)),
                ('progress', models.FloatField(blank=True, null=True)),
                ('current_lesson', models.CharField(blank=True, help_text='The LMS lesson to resume, kept while access is suspended.', max_length=140)),
                ('progress_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('enrollment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='enrollments.enrollment')),
            ],
            options={
                'verbose_name': 'LMS sync job',
                'verbose_name_plural': 'LMS sync jobs',
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='lms_sync_job_due_idx')],
                'constraints': [models.UniqueConstraint(fields=('enrollment', 'action'), name='lms_sync_job_one_per_enrollment_action')],
            },
        ),
        migrations.RunPython(copy_jobs, copy_back),
        migrations.DeleteModel(
            name='LmsAlert',
        ),
    ]
