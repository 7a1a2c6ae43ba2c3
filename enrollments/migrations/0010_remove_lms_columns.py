"""The lms_* columns go: lms_sync.LmsSyncJob owns that state now (copied by lms_sync 0003)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('enrollments', '0009_enrollment_stripe_checked_at'),
        # The LMS sync state moves to lms_sync's job table first (copied there).
        ('lms_sync', '0003_job_table'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='enrollment',
            name='enrollment_lms_due_idx',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_action',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_attempts',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_current_lesson',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_enrollment_name',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_last_error',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_lease_token',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_lease_until',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_next_attempt_at',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_progress',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_progress_at',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_status',
        ),
        migrations.RemoveField(
            model_name='enrollment',
            name='lms_synced_at',
        ),
    ]
