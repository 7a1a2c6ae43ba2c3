"""The shared library's one table: the e-mail outbox (how it is used: ``common.outbox``)."""

from django.db import models
from django.utils import timezone


class OutboxEmail(models.Model):
    """One e-mail we owe someone, as it was when the change that causes it was written: either
    rendered then (``subject``, ``text_body``, ``html_body``) or as ``context``, the plain values
    its template is rendered with at delivery (``common.outbox``).

    ``key`` names the e-mail and the row it is about (``enrollment-confirmation:42``); its
    unique index is what makes "send this e-mail once" hold: a second insert for the same key
    is a no-op. The row, not the queue, is the truth: the sweep re-enqueues what is due.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting for its (next) attempt
        SENDING = "sending", "Sending"  # claimed by a worker at ``claimed_at``
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # gave up after ``common.outbox.MAX_ATTEMPTS``
        CANCELED = "canceled", "Canceled"  # no longer owed (say, the recipient deleted them)

    key = models.CharField(max_length=200, unique=True)
    template = models.CharField(max_length=100)
    # One address per line (kept as text so it can be searched the same way on every database).
    to = models.TextField()
    subject = models.TextField()
    text_body = models.TextField()
    html_body = models.TextField()
    # JSON values (no model instances): set, the worker renders ``template`` with them and the
    # three fields above stay empty; null, the row was rendered when queued.
    context = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "outbox e-mail"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def recipients(self) -> list[str]:
        return [address for address in self.to.split("\n") if address]
