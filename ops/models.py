from django.db import models
from django.db.models import Q
from django.utils import timezone


class Incident(models.Model):
    """One stretch of time during which an alert condition held (``ops.alerts``).

    The partial unique constraint allows one *open* incident per (kind, key): the check (or the
    ``lms_sync_failing`` receiver) that finds the condition inserts it and e-mails staff; every
    later one hits the constraint and stays quiet. ``key`` says what it is about when one kind
    can be open for several things at once (an LMS course mapping: ``course-<id>``); checks
    that watch the whole site use "". When the condition clears, the incident is resolved (one
    conditional UPDATE) and the next occurrence is a new incident. Its e-mails ("opened",
    "resolved") are owed once each in the outbox (``common.outbox``, keys
    ``incident-opened:<pk>``/``incident-resolved:<pk>``).
    """

    class Kind(models.TextChoices):
        LMS_FAILURES = "lms_failures", "LMS syncs failing"
        LMS_OVERDUE = "lms_overdue", "Paid enrollments waiting for the LMS"
        STRIPE_EVENT_FAILED = "stripe_event_failed", "Stripe event failed processing"
        WEBHOOKS_SILENT = "webhooks_silent", "No Stripe webhook while checkouts start"
        RECONCILIATION_DRIFT = "reconciliation_drift", "Reconciliation found drift to fix by hand"
        PAYMENT_REVIEW = "payment_review", "Paid checkouts waiting for staff review"
        # Opened by lms_sync's ``lms_sync_failing`` signal, resolved by ``lms_sync_recovered``.
        LMS_CONFIG = "lms_config", "LMS credentials or site rejected"
        LMS_MAPPING = "lms_mapping", "LMS course mapping rejected"
        LMS_GAVE_UP = "lms_gave_up", "LMS sync jobs failed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(
        max_length=100, blank=True, default="", help_text="What it is about (a course), or ''."
    )
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Cleared together with resolved_at being set: the one-open-incident rule is a partial index
    # on an equality, which every backend enforces (MongoDB cannot index "IS NULL").
    is_open = models.BooleanField(default=True, editable=False)
    last_detail = models.TextField(blank=True, help_text="What the latest check found.")

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # Also serves "the open incident of this kind" (every check run, the ops page).
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=Q(is_open=True),
                name="incident_one_open_per_kind_and_key",
            ),
        ]

    def __str__(self) -> str:
        state = "open" if self.resolved_at is None else "resolved"
        about = f" ({self.key})" if self.key else ""
        return f"{self.get_kind_display()}{about}, opened {self.opened_at:%Y-%m-%d %H:%M} ({state})"

    def save(self, *args, **kwargs) -> None:
        self.is_open = self.resolved_at is None
        super().save(*args, **kwargs)


class ReconciliationRun(models.Model):
    """One run of ``ops.reconciliation.reconcile``: what it compared, repaired and reported."""

    since = models.DateTimeField(help_text="Start of the compared window.")
    dry_run = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, help_text="Findings by kind.")
    items = models.JSONField(default=list, help_text="Each finding: kind, ref, detail, repaired.")
    unrepaired = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        mode = " (dry run)" if self.dry_run else ""
        return f"Reconciliation #{self.pk} of {self.started_at:%Y-%m-%d %H:%M}{mode}"
