from django.conf import settings
from django.db import models
from django.db.models import Q

from affiliates.models import Affiliate
from common.money import CURRENCY_CHOICES, format_money
from courses.models import Course
from grants.models import Grant


class Enrollment(models.Model):
    """One learner's purchase of one course, from checkout to fulfilment (and refund).

    Every transition is a conditional UPDATE on this row (see ``enrollments.services``). Its LMS
    sync jobs are ``lms_sync``'s (``lms_sync.models.LmsSyncJob``), created when that app hears
    ``enrollments.signals``; its sweep creates any job a lost signal missed.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        FAILED = "failed", "Payment failed"
        EXPIRED = "expired", "Checkout expired"
        REFUNDED = "refunded", "Refunded"
        CANCELED = "canceled", "Canceled"

    class Kind(models.TextChoices):
        # A sale at the list price (the stored value stays "paid": only the Python name was
        # renamed, from PAID, which read like Status.PAID).
        PURCHASE = "paid", "Paid"
        FULL_GRANT = "full_grant", "Grant (100% off)"
        PARTIAL_GRANT = "partial_grant", "Grant (partial discount)"

    email = models.EmailField(help_text="The learner's e-mail, lower-case.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enrollments",
    )
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="enrollments")
    # The grant whose coupon priced this checkout, and the affiliate it is attributed to; both
    # are fixed when the enrollment is created.
    grant = models.ForeignKey(
        Grant, null=True, blank=True, on_delete=models.PROTECT, related_name="enrollments"
    )
    affiliate = models.ForeignKey(
        Affiliate,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referred_enrollments",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    kind = models.CharField(max_length=14, choices=Kind.choices, default=Kind.PURCHASE)

    list_price_cents = models.PositiveIntegerField()
    discount_cents = models.PositiveIntegerField(default=0)
    amount_due_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount_refunded_cents = models.PositiveIntegerField(default=0)
    # What Stripe reported at payment (Stripe Tax): the price before tax is added, the tax in
    # it, and the total charged. Prices are tax-inclusive (see services.tax), so the total is
    # our price and the tax is part of it; empty for checkouts that never reached Stripe.
    stripe_subtotal_cents = models.PositiveIntegerField(null=True, blank=True)
    tax_cents = models.PositiveIntegerField(default=0)
    stripe_total_cents = models.PositiveIntegerField(null=True, blank=True)

    stripe_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    # The receipt Stripe Checkout created (invoice_creation): its id comes with the paid
    # session, its links are fetched afterwards (enrollments.tasks.fetch_invoice_links).
    stripe_invoice_id = models.CharField(max_length=255, blank=True)
    invoice_url = models.URLField(max_length=2000, blank=True)
    invoice_pdf_url = models.URLField(max_length=2000, blank=True)
    # SHA-256 of the checkout token of the browser that opened this checkout: only that browser
    # (or the owning account) may be handed the open checkout again.
    visitor_hash = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # When the success page last asked Stripe about this pending checkout: claimed by a
    # conditional update, so one call per STRIPE_REFRESH_COOLDOWN_SECONDS across tabs/workers.
    stripe_checked_at = models.DateTimeField(null=True, blank=True)

    # Set when something needs a human: amount mismatch, dispute, payment for a course the
    # learner already owned. The enrollment is not fulfilled automatically in those cases.
    needs_review = models.BooleanField(default=False)
    review_reason = models.CharField(max_length=300, blank=True)

    # The e-mails about an enrollment are owed once each in the outbox (services.emails).

    class Dispute(models.TextChoices):
        NONE = "", "—"
        OPEN = "open", "Open: access suspended"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    dispute_status = models.CharField(
        max_length=4, choices=Dispute.choices, default=Dispute.NONE, blank=True
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["email", "course"],
                condition=Q(status="paid"),
                name="enrollment_one_paid_per_email_course",
            ),
            # One open checkout per learner and course: a double click or the back button
            # reuses it instead of creating a second session.
            # "status" is in the key only so that the two partial indexes differ in their keys,
            # which some MongoDB servers require; within the condition it is one value.
            models.UniqueConstraint(
                fields=["email", "course", "status"],
                condition=Q(status="pending"),
                name="enrollment_one_pending_per_email_course",
            ),
            models.CheckConstraint(
                condition=Q(
                    amount_due_cents=models.F("list_price_cents") - models.F("discount_cents")
                ),
                name="enrollment_amount_due_is_price_minus_discount",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded_cents__lte=models.F("amount_due_cents")),
                name="enrollment_refund_at_most_amount_paid",
            ),
        ]
        indexes = [
            # "My courses": a learner's enrollments by e-mail.
            models.Index(fields=["email", "status"], name="enrollment_email_status_idx"),
            # Expiring stale checkouts.
            models.Index(fields=["status", "expires_at"], name="enrollment_status_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.email} → {self.course_id} ({self.status})"

    @property
    def is_settled(self) -> bool:
        """Nothing more will change here by itself: the payment is decided. A paid enrollment's
        LMS access may still be on its way; the status page asks ``lms_sync`` about that (its
        ``lms_access`` template tag)."""
        if self.awaits_staff_review:
            return True
        return self.status != self.Status.PENDING

    @property
    def awaits_staff_review(self) -> bool:
        """Paid at Stripe, but flagged instead of fulfilled (another amount or currency than
        asked, a second payment): staff decide, and the learner is told so. A dispute that
        overtook the payment's own events flags the checkout too, but that payment is applied
        when its event arrives: not a review (``ops.alerts.payments_awaiting_review`` agrees)."""
        return (
            self.needs_review
            and self.dispute_status == self.Dispute.NONE
            and self.status not in (self.Status.PAID, self.Status.REFUNDED)
        )

    @property
    def amount_due_display(self) -> str:
        return format_money(self.amount_due_cents, self.currency)

    @property
    def order_status(self) -> str:
        """The purchase as "My orders" names it."""
        if self.dispute_status == self.Dispute.OPEN:
            return "Disputed"
        if self.status == self.Status.REFUNDED:
            return "Refunded"
        if self.needs_review:
            return "In review"
        if self.amount_refunded_cents:
            return "Partly refunded"
        return "Paid"

    @property
    def list_price_display(self) -> str:
        return format_money(self.list_price_cents, self.currency)

    @property
    def discount_display(self) -> str:
        return format_money(self.discount_cents, self.currency)

    @property
    def tax_display(self) -> str:
        return format_money(self.tax_cents, self.currency)

    @property
    def amount_refunded_display(self) -> str:
        return format_money(self.amount_refunded_cents, self.currency)

    @property
    def amount_before_tax_cents(self) -> int:
        """What the school earns on this sale: the price paid minus the tax inside it."""
        return self.amount_due_cents - min(self.tax_cents, self.amount_due_cents)


class RefundRequest(models.Model):
    """A refund staff asked for, with the policy they chose for it.

    The ``charge.refunded`` webhook applies the same policy: it reads these rows, so a refund
    made here and the event Stripe sends about it end in the same state. One row per target
    total: a double click on "confirm" cannot refund twice (the Stripe idempotency key is
    derived from the same target).
    """

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, related_name="refund_requests"
    )
    amount_cents = models.PositiveIntegerField(help_text="Back to the card (0 for a free grant).")
    refunded_total_cents = models.PositiveIntegerField(
        help_text="What the enrollment's refunded amount becomes with this refund."
    )
    revoke_access = models.BooleanField()
    restore_coupon = models.BooleanField(default=False)
    reason = models.CharField(max_length=500)
    stripe_refund_id = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "refunded_total_cents"], name="refund_request_once_per_total"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund to {self.refunded_total_cents} on enrollment #{self.enrollment_id}"

    @property
    def idempotency_key(self) -> str:
        return f"enrollment-{self.enrollment_id}-refund-to-{self.refunded_total_cents}"


class StripeEvent(models.Model):
    """Inbox of verified Stripe webhook events. The unique event id makes a repeat a no-op."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (type not handled)"
        FAILED = "failed", "Failed"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RECEIVED)
    result = models.CharField(max_length=40, blank=True, help_text="What the handler did.")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # The sweeper and the ops page: events not processed yet, oldest first.
            models.Index(fields=["outcome", "received_at"], name="stripe_event_outcome_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
