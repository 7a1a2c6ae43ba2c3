from django.db import models
from django.utils import timezone

from enrollments.models import Enrollment


class LmsSyncJob(models.Model):
    """One LMS call to make for one enrollment: enrol, unenrol or suspend (one row per action).

    Owned by ``lms_sync``: created when it hears ``enrollment_paid`` / ``enrollment_revoked`` /
    ``enrollment_suspended`` (an insert guarded by the (enrollment, action) unique constraint),
    and by ``sweep_due_jobs`` for any enrollment whose job a lost signal never created. No other
    app writes this table. Only one job of an enrollment is current: arming one marks the others
    ``superseded`` (a won dispute re-arms the superseded enrol job, which keeps the progress the
    suspend job saved on it). The enrol job also keeps what the LMS knows about the learner's
    enrolment (progress, lesson to resume).
    """

    class Action(models.TextChoices):
        ENROL = "enrol", "Enrol"
        UNENROL = "unenrol", "Unenrol"
        # A dispute: progress is kept on the enrol job, then the LMS enrolment removed; a won
        # dispute enrols again with that progress (lms_sync.frappe explains why).
        SUSPEND = "suspend", "Suspend (keep progress)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_PROGRESS = "in_progress", "In progress"
        SYNCED = "synced", "Synced"
        WAITING_CONFIG = "waiting_config", "Waiting for configuration"
        FAILED = "failed", "Failed"
        # Another action of the same enrollment became current (refund, dispute, dispute won).
        SUPERSEDED = "superseded", "Superseded"
        # The learner deleted their account before the job ran: nothing to do any more.
        CANCELLED = "cancelled", "Not needed (account deleted)"

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.ENROL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    lms_enrollment_name = models.CharField(max_length=140, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    progress = models.FloatField(null=True, blank=True)
    current_lesson = models.CharField(
        max_length=140,
        blank=True,
        help_text="The LMS lesson to resume, kept while access is suspended.",
    )
    progress_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "LMS sync job"
        verbose_name_plural = "LMS sync jobs"
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "action"], name="lms_sync_job_one_per_enrollment_action"
            ),
        ]
        indexes = [
            # The sweeper: due jobs by status and next attempt time.
            models.Index(fields=["status", "next_attempt_at"], name="lms_sync_job_due_idx"),
        ]

    def __str__(self) -> str:
        return f"LMS sync job #{self.pk}"  # the admin shows this; the learner's e-mail stays out


class LmsUserErasure(models.Model):
    """A learner who deleted their account: their Frappe LMS user must go too (a sync job).

    Created by the ``account_erased`` hook while the shop still knows the address (an insert
    guarded by the unique hash, so a repeated deletion finds the same job). The worker deletes
    every LMS enrolment of the user, then the user (disabling it when Frappe keeps links to it),
    under a lease like enrollment jobs; once done the address itself is blanked.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    email_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the e-mail.")
    email = models.EmailField(blank=True, help_text="Blanked once the LMS user is gone.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "LMS user erasure"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="lms_erasure_due_idx"),
        ]

    def __str__(self) -> str:
        return f"LMS user erasure #{self.pk} ({self.status})"
