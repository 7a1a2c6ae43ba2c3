from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.models import normalize_email
from common.fields import primary_key_reference
from courses.models import Course

MIN_DISCOUNT_PERCENT = 10
MAX_DISCOUNT_PERCENT = 100


class GrantStateRefused(IntegrityError):
    """``Grant.save()`` refused a row that breaks one of the grant's check constraints.

    An ``IntegrityError``, as the SQL database's own refusal of the same row is, so a caller
    sees one error on every backend. ``constraints`` names the broken rules (the ``Meta``
    constraint names)."""

    def __init__(self, constraints: list[str]) -> None:
        super().__init__("Grant refused: " + ", ".join(constraints))
        self.constraints = constraints


class Grant(models.Model):
    """An application for a course grant and, once approved, its single-use coupon.

    The life of a grant: ``pending`` → ``approved`` (a coupon code exists) or ``rejected``;
    an approved grant whose coupon was never used becomes ``expired``. The coupon of an approved
    grant is ``available``, ``reserved`` by one enrollment (until a time, or with no end while a
    delayed payment settles) or ``redeemed`` by one enrollment. Every transition is a conditional
    UPDATE in ``grants.services``; the check constraints below refuse any combination those
    services could never produce.

    The same rules hold on every backend, in Python: ``save()`` stores the e-mail lower-cased
    and refuses (``GrantStateRefused``) a row ``broken_rules()`` objects to; the services'
    conditional UPDATEs only make transitions that keep them (``grants.services.redemption``
    refuses a missing enrollment id). The SQL check constraints back this up; MongoDB does not
    enforce check constraints (docs/mongodb.md).

    The enrollment ids are plain integers, not foreign keys: ``enrollments`` depends on ``grants``,
    never the other way round.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"

    class CouponState(models.TextChoices):
        NONE = "", "No coupon"
        AVAILABLE = "available", "Available"
        RESERVED = "reserved", "Reserved"
        REDEEMED = "redeemed", "Redeemed"

    name = models.CharField("applicant name", max_length=150)
    email = models.EmailField("e-mail", help_text="Stored lower-case.")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="grants")
    statement = models.TextField("statement of need")
    organisation = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)

    discount_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[
            MinValueValidator(MIN_DISCOUNT_PERCENT),
            MaxValueValidator(MAX_DISCOUNT_PERCENT),
        ],
        help_text="Set on approval: 10–100.",
    )
    coupon_code = models.CharField(max_length=32, unique=True, null=True, blank=True)
    coupon_expires_at = models.DateTimeField(null=True, blank=True)
    coupon_state = models.CharField(
        max_length=10, choices=CouponState.choices, default=CouponState.NONE, blank=True
    )
    holder_enrollment_id = primary_key_reference(
        null=True, blank=True, help_text="The enrollment holding the reservation."
    )
    reserved_until = models.DateTimeField(
        null=True, blank=True, help_text="Empty while a delayed payment settles."
    )
    redeemed_enrollment_id = primary_key_reference(unique=True, null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)

    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviewed_grants",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    admin_notes = models.TextField(blank=True)

    # Its e-mails (received, staff notice, decision) are owed once each in the outbox
    # (``grants.services.emails``).

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("review_grant", "Can approve or reject grant applications")]
        constraints = [
            # apply_for_grant inserts and turns this violation into "you already applied".
            models.UniqueConstraint(
                fields=["email", "course"],
                condition=Q(status="pending"),
                name="grant_one_pending_per_email_course",
            ),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="grant_email_lower"),
            models.CheckConstraint(
                condition=Q(discount_percent__isnull=True)
                | Q(
                    discount_percent__gte=MIN_DISCOUNT_PERCENT,
                    discount_percent__lte=MAX_DISCOUNT_PERCENT,
                ),
                name="grant_discount_10_to_100",
            ),
            # Pending and rejected grants have no coupon; approved and expired ones have a whole
            # coupon; an expired coupon was never used and is held by nobody.
            models.CheckConstraint(
                condition=Q(
                    status__in=["pending", "rejected"],
                    coupon_state="",
                    coupon_code__isnull=True,
                    coupon_expires_at__isnull=True,
                    discount_percent__isnull=True,
                )
                | Q(
                    status="approved",
                    coupon_state__in=["available", "reserved", "redeemed"],
                    coupon_code__isnull=False,
                    coupon_expires_at__isnull=False,
                    discount_percent__isnull=False,
                )
                | Q(
                    status="expired",
                    coupon_state="available",
                    coupon_code__isnull=False,
                    coupon_expires_at__isnull=False,
                    discount_percent__isnull=False,
                ),
                name="grant_coupon_matches_status",
            ),
            # Who holds or used the coupon is recorded exactly in the matching state. A reservation
            # has a holder, except the in-transaction claim of a 100% coupon, which has an end.
            models.CheckConstraint(
                condition=Q(
                    coupon_state__in=["", "available"],
                    holder_enrollment_id__isnull=True,
                    reserved_until__isnull=True,
                    redeemed_enrollment_id__isnull=True,
                    redeemed_at__isnull=True,
                )
                | (
                    Q(
                        coupon_state="reserved",
                        redeemed_enrollment_id__isnull=True,
                        redeemed_at__isnull=True,
                    )
                    & (Q(holder_enrollment_id__isnull=False) | Q(reserved_until__isnull=False))
                )
                | Q(
                    coupon_state="redeemed",
                    holder_enrollment_id__isnull=True,
                    reserved_until__isnull=True,
                    redeemed_enrollment_id__isnull=False,
                    redeemed_at__isnull=False,
                ),
                name="grant_coupon_holder_matches_state",
            ),
        ]
        indexes = [
            # The admin changelist: filter by status, newest first.
            models.Index(fields=["status", "-created_at"], name="grant_status_created_idx"),
            # expire_coupons (hourly): approved, available coupons past their expiry.
            models.Index(
                fields=["coupon_expires_at"],
                condition=Q(status="approved", coupon_state="available"),
                name="grant_expiry_sweep_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def save(self, *args, **kwargs) -> None:
        self.email = normalize_email(self.email)
        broken = self.broken_rules()
        if broken:
            raise GrantStateRefused(broken)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)
        broken = [name for name in self.broken_rules() if name != "grant_email_lower"]
        if broken:
            raise ValidationError(
                "This combination of status and coupon is not allowed (%(rules)s).",
                code="grant_state",
                params={"rules": ", ".join(broken)},
            )

    def broken_rules(self) -> list[str]:
        """The check constraints of ``Meta`` this row breaks, by name (empty when valid): the
        same rules, evaluated in Python so they hold on a backend without check constraints."""
        broken = []
        if self.email != self.email.lower():
            broken.append("grant_email_lower")
        if self.discount_percent is not None and not (
            MIN_DISCOUNT_PERCENT <= self.discount_percent <= MAX_DISCOUNT_PERCENT
        ):
            broken.append("grant_discount_10_to_100")
        if not self._coupon_matches_status():
            broken.append("grant_coupon_matches_status")
        if not self._holder_matches_state():
            broken.append("grant_coupon_holder_matches_state")
        return broken

    def _coupon_matches_status(self) -> bool:
        whole_coupon = (
            self.coupon_code is not None
            and self.coupon_expires_at is not None
            and self.discount_percent is not None
        )
        if self.status in (self.Status.PENDING, self.Status.REJECTED):
            return (
                self.coupon_state == self.CouponState.NONE
                and self.coupon_code is None
                and self.coupon_expires_at is None
                and self.discount_percent is None
            )
        if self.status == self.Status.APPROVED:
            return whole_coupon and self.coupon_state in (
                self.CouponState.AVAILABLE,
                self.CouponState.RESERVED,
                self.CouponState.REDEEMED,
            )
        if self.status == self.Status.EXPIRED:
            return whole_coupon and self.coupon_state == self.CouponState.AVAILABLE
        return False

    def _holder_matches_state(self) -> bool:
        holder = self.holder_enrollment_id is not None
        until = self.reserved_until is not None
        redeemed = self.redeemed_enrollment_id is not None or self.redeemed_at is not None
        if self.coupon_state in (self.CouponState.NONE, self.CouponState.AVAILABLE):
            return not (holder or until or redeemed)
        if self.coupon_state == self.CouponState.RESERVED:
            return not redeemed and (holder or until)
        if self.coupon_state == self.CouponState.REDEEMED:
            return (
                not (holder or until)
                and self.redeemed_enrollment_id is not None
                and self.redeemed_at is not None
            )
        return False
