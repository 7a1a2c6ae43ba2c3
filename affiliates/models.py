"""Affiliates, their referral clicks, the commission earned on each referred sale, and payouts.

Every figure is a sum over these rows. The dashboard reads them from ``EarningsDay``, the sums
per affiliate, currency and day kept by ``affiliates.earnings`` (recomputable from the rows at
any time); staff pages and payouts sum the rows themselves. Per affiliate and currency::

    net(commission)  = amount_cents - reversed_cents
    carried          = Σ net of commissions already in a payout - Σ payout amounts
    balance          = Σ net of approved commissions + carried

A refund after payout lowers ``net`` of a commission that sits in a payout, so ``carried`` goes
negative and the next payout is reduced by it.
"""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.urls import reverse

from common.fields import primary_key_reference
from common.logging import mask_email
from common.money import CURRENCIES, CURRENCY_CHOICES, format_money

from .validators import BANK, PAYPAL, clean_payout_details

# No 0/1/i/l/o: codes are read aloud and typed from screenshots.
REFERRAL_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
REFERRAL_CODE_LENGTH = 10


def new_referral_code() -> str:
    """Random, so the code reveals nothing about the affiliate (the old system used the e-mail)."""
    return "".join(secrets.choice(REFERRAL_CODE_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def default_rate_percent() -> int:
    return settings.AFFILIATE_DEFAULT_RATE_PERCENT


def _refuse(errors: dict[str, str]) -> None:
    """The rules the CHECK constraints state, enforced on every save and every backend (MongoDB
    does not enforce CHECK constraints): a ``ValidationError`` per field, before any write.
    Services' conditional UPDATEs keep the same rules by construction."""
    if errors:
        raise ValidationError(errors)


def _rate_errors(rate_percent) -> dict[str, str]:
    if rate_percent is None or not 0 <= rate_percent <= 100:
        return {"rate_percent": "The commission rate must be 0–100%."}
    return {}


def _currency_errors(currency) -> dict[str, str]:
    return {} if currency in CURRENCIES else {"currency": f"Unknown currency {currency!r}."}


class PayoutMethod(models.TextChoices):
    PAYPAL = PAYPAL, "PayPal"
    BANK = BANK, "Bank transfer"


class Affiliate(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="affiliate"
    )
    referral_code = models.CharField(max_length=32, unique=True, default=new_referral_code)
    rate_percent = models.PositiveSmallIntegerField(
        "commission rate (%)",
        default=default_rate_percent,
        validators=[MaxValueValidator(100)],
        help_text="Applies to sales from now on; recorded commissions keep their rate.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    payout_method = models.CharField(max_length=10, choices=PayoutMethod.choices)
    paypal_email = models.EmailField("PayPal e-mail", blank=True)
    bank_account_holder = models.CharField("account holder", max_length=140, blank=True)
    bank_account = models.CharField("IBAN or account number", max_length=34, blank=True)
    bank_name = models.CharField(max_length=140, blank=True)
    bank_swift = models.CharField("SWIFT/BIC", max_length=11, blank=True)
    terms_accepted_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate_percent__lte=100), name="affiliate_rate_at_most_100"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "suspended"]),
                name="affiliate_status_known",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(payout_method=PAYPAL) & ~models.Q(paypal_email="")
                    | models.Q(payout_method=BANK)
                    & ~models.Q(bank_account_holder="")
                    & ~models.Q(bank_account="")
                    & ~models.Q(bank_name="")
                ),
                name="affiliate_payout_details_present",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user.email} ({self.referral_code})"

    def save(self, *args, **kwargs) -> None:
        self.check_rules()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        details = clean_payout_details(
            payout_method=self.payout_method,
            paypal_email=self.paypal_email,
            bank_account_holder=self.bank_account_holder,
            bank_account=self.bank_account,
            bank_name=self.bank_name,
            bank_swift=self.bank_swift,
        )
        for field, value in details.items():
            setattr(self, field, value)

    def check_rules(self) -> None:
        """The ``affiliate_*`` CHECK constraints, on every backend."""
        errors = _rate_errors(self.rate_percent)
        if self.status not in self.Status.values:
            errors["status"] = f"Unknown status {self.status!r}."
        present = (
            self.paypal_email
            if self.payout_method == PAYPAL
            else self.payout_method == BANK
            and self.bank_account_holder
            and self.bank_account
            and self.bank_name
        )
        if not present:
            errors["payout_method"] = "Payout details are missing for this payout method."
        _refuse(errors)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def referral_link(self) -> str:
        return f"{settings.SITE_URL}{reverse('courses:catalog')}?ref={self.referral_code}"

    @property
    def payout_destination(self) -> str:
        """The payout details, partly hidden, for pages the affiliate and staff see."""
        if self.payout_method == PayoutMethod.PAYPAL:
            return f"PayPal {mask_email(self.paypal_email)}"
        return f"{self.bank_name}, account ending {self.bank_account[-4:]}"


class ReferralClick(models.Model):
    """One row per affiliate, visitor and day: the unique constraint decides, not a lookup."""

    # Served by referral_click_once_per_visitor_day, which leads with affiliate.
    affiliate = models.ForeignKey(
        Affiliate, on_delete=models.CASCADE, related_name="clicks", db_index=False
    )
    # HMAC of the random first-party visitor id cookie: no IP, no raw identifier stored.
    visitor_key = models.CharField(max_length=64)
    day = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["affiliate", "visitor_key", "day"],
                name="referral_click_once_per_visitor_day",
            ),
        ]
        indexes = [
            # The dashboard's click counts: settled days, then the last two (selectors).
            models.Index(fields=["affiliate", "day"], name="referral_click_affiliate_day"),
        ]

    def __str__(self) -> str:
        return f"{self.affiliate_id} {self.day}"


class Payout(models.Model):
    """Money sent to an affiliate: the commissions it claimed plus the carried balance."""

    affiliate = models.ForeignKey(
        Affiliate, on_delete=models.PROTECT, related_name="payouts", db_index=False
    )
    # 1, 2, 3… per affiliate. Unique, so two payouts for one affiliate cannot be computed from the
    # same carried balance: the second insert fails and create_payout starts again.
    sequence = models.PositiveIntegerField()
    amount_cents = models.PositiveIntegerField("amount (cents)")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    method = models.CharField(max_length=10, choices=PayoutMethod.choices)
    reference = models.CharField(max_length=200, help_text="PayPal or bank transaction reference")
    # How many commissions it claimed, written with its amount (the dashboard shows it without
    # counting them).
    commissions_claimed = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Also serves the dashboard's payout history (WHERE affiliate_id = %s ORDER BY
            # sequence DESC) and the carried-balance sums.
            models.UniqueConstraint(
                fields=["affiliate", "sequence"], name="payout_sequence_per_affiliate"
            ),
            models.CheckConstraint(
                condition=models.Q(amount_cents__gt=0), name="payout_amount_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(currency__in=list(CURRENCIES)), name="payout_currency_known"
            ),
        ]

    def __str__(self) -> str:
        return f"Payout #{self.sequence}: {self.amount_display}"

    def save(self, *args, **kwargs) -> None:
        self.check_rules()
        super().save(*args, **kwargs)

    def check_rules(self) -> None:
        """The ``payout_*`` CHECK constraints, on every backend."""
        errors = _currency_errors(self.currency)
        if self.amount_cents is None or self.amount_cents <= 0:
            errors["amount_cents"] = "A payout's amount must be positive."
        _refuse(errors)

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_cents, self.currency)


class Commission(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        PAID = "paid", "Paid"
        REVERSED = "reversed", "Reversed"

    # Served by commission_affiliate_sold_idx, which leads with affiliate.
    affiliate = models.ForeignKey(
        Affiliate, on_delete=models.PROTECT, related_name="commissions", db_index=False
    )
    sale_id = primary_key_reference(
        unique=True,
        help_text="The enrollments.Enrollment pk; no FK so affiliates stays below enrollments.",
    )
    course = models.ForeignKey("courses.Course", on_delete=models.PROTECT, related_name="+")
    # Masked when written: the affiliate's pages must never hold the buyer's address.
    buyer_email_masked = models.CharField("buyer", max_length=254)
    sold_at = models.DateTimeField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    sale_amount_cents = models.PositiveIntegerField("amount paid (cents)")
    rate_percent = models.PositiveSmallIntegerField("rate (%)")
    amount_cents = models.PositiveIntegerField("commission (cents)")
    reversed_cents = models.PositiveIntegerField("reversed (cents)", default=0)
    # Net at the moment a payout claimed it; later reversals are carried to the next payout.
    paid_cents = models.PositiveIntegerField("paid (cents)", default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # A payment dispute is open on the sale: the commission is neither approved nor paid out
    # until it closes.
    on_hold = models.BooleanField(default=False)
    approved_at = models.DateTimeField(null=True, blank=True)
    payout = models.ForeignKey(
        Payout, on_delete=models.PROTECT, null=True, blank=True, related_name="commissions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Raised by every write that changes the figures, in the same UPDATE that sets
    # totals_stale; a new row (whoever inserts it) is born stale. affiliates.earnings counts
    # the stale rows into their EarningsDay and clears the flag of the version it counted.
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)
    totals_stale = models.BooleanField(default=True, db_default=True, editable=False)

    class Meta:
        ordering = ["-sold_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate_percent__lte=100), name="commission_rate_at_most_100"
            ),
            models.CheckConstraint(
                condition=models.Q(reversed_cents__lte=models.F("amount_cents")),
                name="commission_reversed_within_amount",
            ),
            models.CheckConstraint(
                condition=models.Q(paid_cents__lte=models.F("amount_cents")),
                name="commission_paid_within_amount",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "paid", "reversed"]),
                name="commission_status_known",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | models.Q(payout__isnull=False),
                name="commission_paid_has_payout",
            ),
            models.CheckConstraint(
                condition=models.Q(currency__in=list(CURRENCIES)),
                name="commission_currency_known",
            ),
        ]
        indexes = [
            # The dashboard's sales page and sums (WHERE affiliate_id = %s ORDER BY sold_at DESC)
            # and the CSV export (WHERE affiliate_id = %s AND sold_at BETWEEN …).
            models.Index(
                fields=["affiliate", "-sold_at", "-id"], name="commission_affiliate_sold_idx"
            ),
            # approve_matured_commissions: WHERE status = 'pending' AND sold_at <= %s.
            models.Index(
                fields=["sold_at"],
                name="commission_pending_sold_idx",
                condition=models.Q(status="pending"),
            ),
            # create_payout's candidates: WHERE affiliate_id = %s AND currency = %s
            # AND status = 'approved' AND payout_id IS NULL.
            models.Index(
                fields=["affiliate", "currency"],
                name="commission_payable_idx",
                # An approved commission has no payout yet (a paid one has): no IS NULL here,
                # which MongoDB's partial indexes cannot express.
                condition=models.Q(status="approved"),
            ),
            # affiliates.earnings: WHERE affiliate_id = %s AND totals_stale (a handful of rows).
            models.Index(
                fields=["affiliate"],
                name="commission_totals_stale_idx",
                condition=models.Q(totals_stale=True),
            ),
        ]

    def __str__(self) -> str:
        return f"Commission on sale {self.sale_id}: {self.net_display}"

    def save(self, *args, **kwargs) -> None:
        self.check_rules()
        super().save(*args, **kwargs)

    def check_rules(self) -> None:
        """The ``commission_*`` CHECK constraints, on every backend."""
        errors = {**_rate_errors(self.rate_percent), **_currency_errors(self.currency)}
        if self.reversed_cents > self.amount_cents:
            errors["reversed_cents"] = "More reversed than the commission's amount."
        if self.paid_cents > self.amount_cents:
            errors["paid_cents"] = "More paid than the commission's amount."
        if self.status not in self.Status.values:
            errors["status"] = f"Unknown status {self.status!r}."
        elif self.status == self.Status.PAID and self.payout_id is None:
            errors["payout"] = "A paid commission belongs to a payout."
        _refuse(errors)

    @property
    def net_cents(self) -> int:
        return self.amount_cents - self.reversed_cents

    @property
    def net_display(self) -> str:
        return format_money(self.net_cents, self.currency)

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_cents, self.currency)

    @property
    def reversed_display(self) -> str:
        return format_money(self.reversed_cents, self.currency)

    @property
    def sale_amount_display(self) -> str:
        return format_money(self.sale_amount_cents, self.currency)

    @property
    def status_label(self) -> str:
        if self.status == self.Status.REVERSED and self.payout_id:
            return "Reversed after payout"
        if self.reversed_cents and self.status != self.Status.REVERSED:
            return f"{self.get_status_display()}, partly refunded"
        return self.get_status_display()


class EarningsDay(models.Model):
    """One affiliate's commissions sold on one UTC day in one currency, summed.

    Written only by ``affiliates.earnings.refresh``, which recomputes it from the commission rows
    (never increments it), so it can always be rebuilt from them. The four money figures split
    the commissions' gross amount: pending + approved + paid (net of those in a payout) + reversed.
    """

    affiliate = models.ForeignKey(
        Affiliate, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    day = models.DateField()
    sales = models.PositiveIntegerField(default=0)
    # Sales not refunded in full.
    referrals = models.PositiveIntegerField(default=0)
    pending_cents = models.PositiveBigIntegerField(default=0)
    approved_cents = models.PositiveBigIntegerField(default=0)
    paid_cents = models.PositiveBigIntegerField(default=0)
    reversed_cents = models.PositiveBigIntegerField(default=0)
    # Σ Commission.version over the rows summed: every write raises it, so a sum taken earlier
    # (smaller stamp) never replaces a later one.
    stamp = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            # Also serves the dashboard's reads (WHERE affiliate_id = %s [AND day >= %s]).
            models.UniqueConstraint(
                fields=["affiliate", "day", "currency"], name="earnings_day_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.affiliate_id} {self.day} {self.currency}"
