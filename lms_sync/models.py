from django.db import models
from django.db.models import Q
from django.utils import timezone

from enrollments.models import Enrollment


class LmsSyncJob(Enrollment):
    """An enrollment seen as its LMS sync job (the ``lms_*`` fields), for the staff admin."""

    class Meta:
        proxy = True
        verbose_name = "LMS sync job"
        verbose_name_plural = "LMS sync jobs"

    def __str__(self) -> str:
        return f"LMS sync job #{self.pk}"  # the admin shows this; the learner's e-mail stays out


class LmsAlert(models.Model):
    """One incident staff were (or are being) told about by e-mail.

    The partial unique constraint allows one *open* alert per (kind, key): the first failing job
    inserts it and e-mails staff, every later one hits the constraint and stays quiet. A later
    successful sync resolves it, so the next failure is a new incident and alerts again.
    """

    class Kind(models.TextChoices):
        CONFIG = "config", "LMS credentials or site rejected"
        MAPPING = "mapping", "Course mapping rejected"
        FAILED = "failed", "Sync jobs failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(
        max_length=100, help_text="What the incident is about: the site, or one course."
    )
    detail = models.TextField(blank=True, help_text="The first error, as Frappe explained it.")
    opened_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=Q(resolved_at__isnull=True),
                name="lms_alert_one_open_per_incident",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.key}"


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
