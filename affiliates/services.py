"""Writes for affiliates. Each state change is an insert guarded by a unique constraint or one
conditional ``UPDATE … WHERE <expected state>`` whose row count is checked, so every function is
safe to call twice and from concurrent requests, webhooks and workers.

The enrollments app calls ``record_commission`` on fulfilment and ``reverse_commission`` on
refunds (who referred a checkout is a read: ``selectors.resolve_attribution``); staff reach the
rest through the admin.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import user_versions
from accounts.selectors import verified_email_of
from common import outbox
from common.logging import mask_email
from common.money import CURRENCIES, percent_of
from common.transactions import TransactionConflict, atomic, guarded_insert, retry_transient

from . import dashboard_cache, earnings, referral_codes, selectors
from .models import (
    Affiliate,
    Commission,
    Payout,
    PayoutMethod,
    ReferralClick,
    new_referral_code,
)
from .validators import clean_payout_details

logger = logging.getLogger(__name__)

# What an affiliate sees instead of a buyer whose account was deleted.
ERASED_BUYER = "(deleted account)"

_CODE_ATTEMPTS = 5
_PAYOUT_ATTEMPTS = 3


# --- Joining --------------------------------------------------------------------------------


def join_affiliate_programme(
    *,
    user,
    payout_method: str,
    paypal_email: str = "",
    bank_account_holder: str = "",
    bank_account: str = "",
    bank_name: str = "",
    bank_swift: str = "",
    accepted_terms: bool,
) -> Affiliate:
    """Make ``user`` an active affiliate, or return the account they already have.

    Raises ``ValidationError`` (per field) for an unverified e-mail, unaccepted terms or invalid
    payout details. The welcome e-mail leaves after commit.
    """
    if verified_email_of(user) is None:
        raise ValidationError("Verify your e-mail address before joining the affiliate programme.")
    if not accepted_terms:
        raise ValidationError({"accepted_terms": "You must accept the programme terms to join."})
    details = clean_payout_details(
        payout_method=payout_method,
        paypal_email=paypal_email,
        bank_account_holder=bank_account_holder,
        bank_account=bank_account,
        bank_name=bank_name,
        bank_swift=bank_swift,
    )
    with atomic():
        affiliate, created = _create_affiliate(user, terms_accepted_at=timezone.now(), **details)
        if created:
            queue_welcome_email(affiliate)
    if created:
        logger.info("event=affiliate.joined affiliate_id=%s", affiliate.pk)
    return affiliate


def _create_affiliate(user, **fields) -> tuple[Affiliate, bool]:
    """The user's affiliate account with a fresh referral code, or the one they already have;
    and whether this call created it."""
    for _ in range(_CODE_ATTEMPTS):
        try:
            with atomic():
                affiliate = Affiliate.objects.create(
                    user=user, referral_code=new_referral_code(), **fields
                )
        except IntegrityError:
            # The user's one-to-one decided: they joined already (another tab, a double submit).
            existing = Affiliate.objects.filter(user=user).first()
            if existing is not None:
                return existing, False
            continue  # A referral code collision (1 in 10^14): draw another.
        referral_codes.changed()
        return affiliate, True
    raise RuntimeError("Could not draw an unused referral code.")


def ensure_demo_affiliate(*, user, referral_code: str, paypal_email: str) -> Affiliate:
    """``make demo``'s affiliate, with a referral code people can type; safe to re-run. (Real
    affiliates get a drawn code through ``join_affiliate_programme``.)"""
    affiliate, _ = Affiliate.objects.get_or_create(
        user=user,
        defaults={
            "referral_code": referral_code,
            "payout_method": PayoutMethod.PAYPAL,
            "paypal_email": paypal_email,
            "terms_accepted_at": timezone.now(),
        },
    )
    referral_codes.changed()
    return affiliate


def welcome_key(affiliate_id: int) -> str:
    return f"affiliate-welcome:{affiliate_id}"


def queue_welcome_email(affiliate: Affiliate) -> bool:
    """The welcome e-mail, owed once in the outbox (``common.outbox``); call it in the
    transaction that creates the affiliate."""
    return outbox.enqueue_email(
        key=welcome_key(affiliate.pk),
        to=[affiliate.user.email],
        template="affiliate_welcome",
        context={
            "affiliate": affiliate,
            "referral_link": affiliate.referral_link,
            "cookie_days": settings.AFFILIATE_COOKIE_DAYS,
            "refund_window_days": settings.COMMISSION_REFUND_WINDOW_DAYS,
            "payout_minimum": selectors.payout_minimum_display(),
        },
    )


def suspend_affiliate(*, affiliate_id: int) -> bool:
    """Stop new attribution and new commissions; history and balances stay. True if it changed."""
    changed = Affiliate.objects.filter(pk=affiliate_id, status=Affiliate.Status.ACTIVE).update(
        status=Affiliate.Status.SUSPENDED
    )
    if changed:
        referral_codes.changed()
        _row_changed(affiliate_id)
        logger.info("event=affiliate.suspended affiliate_id=%s", affiliate_id)
    return bool(changed)


def reactivate_affiliate(*, affiliate_id: int) -> bool:
    changed = Affiliate.objects.filter(pk=affiliate_id, status=Affiliate.Status.SUSPENDED).update(
        status=Affiliate.Status.ACTIVE
    )
    if changed:
        referral_codes.changed()
        _row_changed(affiliate_id)
        logger.info("event=affiliate.reactivated affiliate_id=%s", affiliate_id)
    return bool(changed)


def _row_changed(affiliate_id) -> None:
    """An ``.update()`` of the affiliate's row (no signal fires): its user's version moves, so
    no web process serves the row it kept with the signed-in user (``signed_in``)."""
    user_versions.changed(
        *Affiliate.objects.filter(pk=affiliate_id).values_list("user_id", flat=True)
    )


# --- Attribution ----------------------------------------------------------------------------


def record_referral_click(*, affiliate_id: int, visitor_key: str, day) -> bool:
    """Count one click per affiliate, visitor and day; True if this one was counted."""
    try:
        with guarded_insert():
            ReferralClick.objects.create(
                affiliate_id=affiliate_id, visitor_key=visitor_key, day=day
            )
    except IntegrityError:
        return False
    dashboard_cache.invalidate_clicks(affiliate_id)
    return True


# --- Commissions ----------------------------------------------------------------------------

# Part of every UPDATE that changes a commission's figures (affiliates.earnings).
_FIGURES_CHANGED = {"version": F("version") + 1, "totals_stale": True}


def refresh_stale_earnings() -> tuple[int, int]:
    """Count every commission not yet in its affiliate's daily totals and retire those
    dashboards; returns (affiliates, days recomputed). The after-commit refresh of a write
    normally leaves nothing to do; this catches what a crash, a migration or a bulk import
    left stale, so no affiliate's first dashboard view pays for it (``refresh_earnings``, and
    every 10 minutes from beat)."""
    affiliate_ids = earnings.stale_affiliate_ids()
    days = sum(earnings.refresh(affiliate_id) for affiliate_id in affiliate_ids)
    if affiliate_ids:
        dashboard_cache.invalidate(*affiliate_ids)
    return len(affiliate_ids), days


def _figures_changed(*affiliate_ids: int) -> None:
    """After commit, count the change into the daily totals, then retire the cached dashboard.
    A refresh that fails is left to the next one (the rows stay stale): the write stands."""
    ids = sorted(set(affiliate_ids))

    def refresh() -> None:
        for affiliate_id in ids:
            earnings.refresh(affiliate_id)

    transaction.on_commit(refresh, robust=True)
    dashboard_cache.invalidate(*ids)


def count_sale(*, sale_id: int) -> bool:
    """Count the commission on this sale into its affiliate's daily totals, if it is not yet
    (a sale recorded with ``count_now=False``); True when there was one to count. Safe to
    repeat: ``earnings.refresh`` recomputes sums, and the sweep catches a count that never ran.
    """
    affiliate_id = (
        Commission.objects.filter(sale_id=sale_id, totals_stale=True)
        .values_list("affiliate_id", flat=True)
        .first()
    )
    if affiliate_id is None:
        return False
    earnings.refresh(affiliate_id)
    return True


def record_commission(
    *,
    affiliate_id: int,
    sale_id: int,
    course_id: int,
    buyer_email: str,
    amount_paid_cents: int,
    currency: str,
    sold_at: datetime,
    count_now: bool = True,
) -> Commission | None:
    """The commission on one attributed sale, created once whatever the number of calls.

    None when nothing was paid (a 100% grant) or the affiliate is suspended or unknown. The rate
    is the affiliate's current rate, kept on the row; the amount is that percentage of what was
    actually paid, half-up to the cent.

    ``count_now=False``: the caller's own after-commit work counts it into the daily totals
    (``count_sale``; the webhook leaves it to the payment's Celery task). The dashboard is
    retired at once either way, and a view before the count counts it itself.
    """
    if amount_paid_cents <= 0:
        return None
    currency = currency.lower()
    if currency not in CURRENCIES:
        raise ValueError(f"Unknown currency {currency!r}")
    affiliate = Affiliate.objects.filter(pk=affiliate_id, status=Affiliate.Status.ACTIVE).first()
    if affiliate is None:
        logger.info("event=commission.skipped sale_id=%s affiliate_id=%s", sale_id, affiliate_id)
        return None
    try:
        with atomic():
            commission = Commission.objects.create(
                affiliate=affiliate,
                sale_id=sale_id,
                course_id=course_id,
                buyer_email_masked=mask_email(buyer_email),
                sold_at=sold_at,
                currency=currency,
                sale_amount_cents=amount_paid_cents,
                rate_percent=affiliate.rate_percent,
                amount_cents=percent_of(amount_paid_cents, affiliate.rate_percent),
            )
    except IntegrityError:
        # A replayed webhook or a second worker: the unique sale_id already holds the commission.
        existing = Commission.objects.filter(sale_id=sale_id).first()
        if existing is None:
            raise
        return existing
    if count_now:
        _figures_changed(affiliate.pk)
    else:
        dashboard_cache.invalidate(affiliate.pk)
    logger.info(
        "event=commission.recorded sale_id=%s affiliate_id=%s amount_cents=%s",
        sale_id,
        affiliate.pk,
        commission.amount_cents,
    )
    return commission


def reverse_commission(*, sale_id: int, refunded_cents_total: int, charged_cents: int) -> None:
    """Reverse the share of the commission that was refunded: ``refunded_cents_total`` of the
    ``charged_cents`` the buyer paid (``selectors.commission_reversal_for``, the one rule).

    ``refunded_cents_total`` is cumulative (Stripe's ``amount_refunded``), so replays and events
    arriving out of order are harmless: ``reversed_cents`` only ever grows to the largest share
    seen. Nothing left to earn → status ``reversed``. A commission already paid keeps its payout;
    the reversed part becomes a negative balance that the next payout deducts.
    """
    if charged_cents <= 0 or refunded_cents_total <= 0:
        return
    commission = selectors.commission_for_sale(sale_id)
    if commission is None:
        return  # The sale was not attributed.
    reversal = selectors.commission_reversal_for(
        commission, refunded_cents_total=refunded_cents_total, charged_cents=charged_cents
    )
    commissions = Commission.objects.filter(sale_id=sale_id)
    if reversal.full:
        changed = commissions.exclude(status=Commission.Status.REVERSED).update(
            reversed_cents=commission.amount_cents,
            status=Commission.Status.REVERSED,
            **_FIGURES_CHANGED,
        )
    else:
        changed = commissions.filter(reversed_cents__lt=reversal.target_cents).update(
            reversed_cents=reversal.target_cents, **_FIGURES_CHANGED
        )
    if changed:
        _figures_changed(commission.affiliate_id)
        logger.info(
            "event=commission.reversed sale_id=%s reversed_cents=%s of=%s",
            sale_id,
            reversal.target_cents,
            commission.amount_cents,
        )


def hold_commission(*, sale_id: int, on_hold: bool) -> bool:
    """Hold (a dispute opened) or release (it was won) the commission on a sale. Idempotent."""
    changed = Commission.objects.filter(sale_id=sale_id, on_hold=not on_hold).update(
        on_hold=on_hold
    )
    if changed:
        logger.info("event=commission.hold sale_id=%s on_hold=%s", sale_id, on_hold)
    return bool(changed)


def approve_matured_commissions(*, now: datetime | None = None) -> int:
    """Pending commissions whose refund window has passed become approved; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.COMMISSION_REFUND_WINDOW_DAYS)
    matured = Commission.objects.filter(
        status=Commission.Status.PENDING, sold_at__lte=cutoff, on_hold=False
    )
    affiliate_ids = set(matured.values_list("affiliate_id", flat=True).distinct())
    # Only those affiliates' rows: one whose commission matures meanwhile is approved by the
    # next run, never left approved without its totals recounted and its dashboard retired.
    approved = matured.filter(affiliate_id__in=affiliate_ids).update(
        status=Commission.Status.APPROVED, approved_at=now, **_FIGURES_CHANGED
    )
    if approved:
        _figures_changed(*affiliate_ids)
        logger.info("event=commission.approved count=%s", approved)
    return approved


# --- Payouts --------------------------------------------------------------------------------


class _PayoutAbandoned(Exception):
    """Rolls back a payout whose claimed amount turned out below the minimum."""

    def __init__(self, payout_id) -> None:
        super().__init__(payout_id)
        self.payout_id = payout_id


def _undo_abandoned_payout(payout_id) -> int:
    """Where the block ran without a transaction (a standalone MongoDB server) the abandoned
    payout and its claims were written: hand the commissions back (approved, no payout) and
    delete the payout. After a rollback (SQL, a replica set) there is nothing left to undo."""
    handed_back = Commission.objects.filter(
        payout_id=payout_id, status=Commission.Status.PAID
    ).update(payout=None, status=Commission.Status.APPROVED, paid_cents=0, **_FIGURES_CHANGED)
    if not Commission.objects.filter(payout_id=payout_id).exists():
        Payout.objects.filter(pk=payout_id).delete()
    if handed_back:
        logger.warning("event=payout.undone payout_id=%s commissions=%s", payout_id, handed_back)
    return handed_back


def create_payout(
    *, affiliate_id: int, currency: str, method: str, reference: str, created_by
) -> Payout | None:
    """Pay the affiliate's approved commissions in ``currency``, less any carried negative balance.

    Returns None when the amount would be below ``PAYOUT_MINIMUM_CENTS`` or nothing is left to
    claim. The commissions are marked paid by one conditional update that only takes rows no
    payout holds, and the payout's amount is the sum of exactly the rows that update claimed, so
    no commission is ever paid twice, whoever clicks at the same time. A ``ValidationError``
    (nothing changed) when overlapping payouts for the affiliate kept failing this one's
    transaction (a MongoDB replica set, after ``retry_transient``'s attempts).
    """
    if method not in PayoutMethod.values:
        raise ValidationError({"method": "Choose PayPal or bank transfer."})
    reference = " ".join((reference or "").split())
    if not reference or len(reference) > 200:
        raise ValidationError({"reference": "Enter the transaction reference (200 characters)."})
    minimum = max(settings.PAYOUT_MINIMUM_CENTS, 1)
    try:
        # On a MongoDB replica set an overlapping payout for the affiliate fails ours with a
        # write conflict: the transaction rolled back, so it runs again from its reads.
        return retry_transient(
            lambda: _pay(
                affiliate_id=affiliate_id,
                currency=currency,
                method=method,
                reference=reference,
                created_by=created_by,
                minimum=minimum,
            )
        )
    except TransactionConflict as conflict:
        raise ValidationError(
            "Another payout for this affiliate is being made; try again."
        ) from conflict


def _pay(
    *, affiliate_id: int, currency: str, method: str, reference: str, created_by, minimum: int
) -> Payout | None:
    attempts_left = _PAYOUT_ATTEMPTS
    while True:
        if selectors.earnings_of(affiliate_id, currency).balance_cents < minimum:
            return None
        candidate_ids = selectors.payable_commission_ids(
            affiliate_id=affiliate_id, currency=currency
        )
        if not candidate_ids:
            return None
        try:
            return _claim_into_payout(
                affiliate_id=affiliate_id,
                currency=currency,
                candidate_ids=candidate_ids,
                method=method,
                reference=reference,
                created_by=created_by,
                minimum=minimum,
            )
        except _PayoutAbandoned as abandoned:
            if _undo_abandoned_payout(abandoned.payout_id):
                _figures_changed(affiliate_id)
            return None
        except IntegrityError:
            # Another payout for this affiliate took the same sequence number first: start
            # again from the state it left.
            attempts_left -= 1
            if not attempts_left:
                raise


def _claim_into_payout(
    *,
    affiliate_id: int,
    currency: str,
    candidate_ids: list[int],
    method: str,
    reference: str,
    created_by,
    minimum: int,
) -> Payout:
    with atomic():
        last = Payout.objects.filter(affiliate_id=affiliate_id).aggregate(last=Max("sequence"))
        # The amount is provisional until the claim below says which rows are ours.
        payout = Payout.objects.create(
            affiliate_id=affiliate_id,
            sequence=(last["last"] or 0) + 1,
            amount_cents=minimum,
            currency=currency,
            method=method,
            reference=reference,
            created_by=created_by,
        )
        claimed = Commission.objects.filter(
            id__in=candidate_ids,
            affiliate_id=affiliate_id,
            currency=currency,
            status=Commission.Status.APPROVED,
            payout__isnull=True,
            on_hold=False,
        ).update(
            payout=payout,
            status=Commission.Status.PAID,
            paid_cents=F("amount_cents") - F("reversed_cents"),
            **_FIGURES_CHANGED,
        )
        if not claimed:
            raise _PayoutAbandoned(payout.pk)
        claimed_cents = payout.commissions.aggregate(total=Sum("paid_cents"))["total"]
        amount_cents = claimed_cents + _carried_cents(payout)
        if amount_cents < minimum:
            raise _PayoutAbandoned(payout.pk)
        Payout.objects.filter(pk=payout.pk).update(
            amount_cents=amount_cents, commissions_claimed=claimed
        )
        payout.amount_cents, payout.commissions_claimed = amount_cents, claimed
    _figures_changed(affiliate_id)
    logger.info(
        "event=payout.created payout_id=%s affiliate_id=%s commissions=%s amount_cents=%s "
        "claimed_cents=%s",
        payout.pk,
        affiliate_id,
        claimed,
        amount_cents,
        claimed_cents,
    )
    return payout


def _carried_cents(payout: Payout) -> int:
    """What earlier payouts left over: Σ net of the commissions they hold − Σ their amounts.

    Negative when commissions were refunded after being paid. Earlier means a lower sequence:
    a later payout in flight (provisional amount, perhaps abandoned) never counts. On SQL every
    earlier payout is committed by now (this payout's sequence insert waited for any other in
    flight), so nothing is missed.
    """
    earlier_payouts = Payout.objects.filter(
        affiliate_id=payout.affiliate_id, currency=payout.currency, sequence__lt=payout.sequence
    )
    earlier_ids = list(earlier_payouts.values_list("pk", flat=True))
    if not earlier_ids:
        return 0
    earlier_commissions = Commission.objects.filter(payout_id__in=earlier_ids)
    net = earlier_commissions.aggregate(
        total=Coalesce(Sum(F("amount_cents") - F("reversed_cents")), 0)
    )["total"]
    paid = earlier_payouts.aggregate(total=Coalesce(Sum("amount_cents"), 0))["total"]
    return net - paid


# --- Deleted accounts ---------------------------------------------------------------------------


def forget_affiliate(*, user_id: int, erased_email: str) -> bool:
    """A deleted account's affiliate record: suspended (no new attribution or commission) and its
    payout details removed. Its referral code, commissions and payouts stay: they are the record
    of money paid. Callers first make sure nothing is owed (``selectors.owes_affiliate``).
    Safe to re-run; True when the record existed."""
    changed = Affiliate.objects.filter(user_id=user_id).update(
        status=Affiliate.Status.SUSPENDED,
        payout_method=PayoutMethod.PAYPAL,
        paypal_email=erased_email,
        bank_account_holder="",
        bank_account="",
        bank_name="",
        bank_swift="",
    )
    if changed:
        referral_codes.changed()
        user_versions.changed(user_id)
        dashboard_cache.invalidate(
            *Affiliate.objects.filter(user_id=user_id).values_list("pk", flat=True)
        )
        logger.info("event=affiliate.forgotten user_id=%s", user_id)
    return bool(changed)


def forget_buyer(*, sale_ids: list[int]) -> int:
    """The buyer of these sales deleted their account: affiliates no longer see even the
    masked address on those commissions."""
    commissions = Commission.objects.filter(sale_id__in=sale_ids).exclude(
        buyer_email_masked=ERASED_BUYER
    )
    affiliate_ids = list(commissions.values_list("affiliate_id", flat=True))
    changed = commissions.update(buyer_email_masked=ERASED_BUYER)
    if changed:
        dashboard_cache.invalidate(*affiliate_ids)
    return changed


# --- Import from the old MaalEdu (the legacy app calls these; each is safe to re-run) -------


def import_affiliate(
    *,
    user,
    rate_percent: int,
    active: bool,
    payout_method: str,
    paypal_email: str = "",
    bank_account_holder: str = "",
    bank_account: str = "",
    bank_name: str = "",
    bank_swift: str = "",
    joined_at: datetime,
) -> tuple[Affiliate, bool]:
    """The user's affiliate account, created with a new referral code if missing (no welcome
    e-mail: they are not new); and whether this call created it. ``ValidationError`` for
    payout details we would not accept from the join form."""
    existing = Affiliate.objects.filter(user=user).first()
    if existing is not None:
        return existing, False
    if not 0 <= rate_percent <= 100:
        raise ValidationError({"rate_percent": "The commission rate must be 0–100%."})
    details = clean_payout_details(
        payout_method=payout_method,
        paypal_email=paypal_email,
        bank_account_holder=bank_account_holder,
        bank_account=bank_account,
        bank_name=bank_name,
        bank_swift=bank_swift,
    )
    return _create_affiliate(
        user,
        rate_percent=rate_percent,
        status=Affiliate.Status.ACTIVE if active else Affiliate.Status.SUSPENDED,
        terms_accepted_at=joined_at,
        # No welcome e-mail is queued: the old system welcomed them long ago.
        **details,
    )


def import_commission(
    *,
    affiliate_id: int,
    sale_id: int,
    course,
    buyer_email: str,
    sale_amount_cents: int,
    currency: str,
    rate_percent: int,
    amount_cents: int,
    sold_at: datetime,
    reversed: bool,
) -> tuple[Commission, bool]:
    """The commission the old system stored for a sale, amount as stored (never recalculated:
    recalculating was the old system's defect); and whether this call created it.

    A refunded sale's commission is reversed in full; one older than the refund window is
    approved; the rest wait for the window like any new sale.
    """
    if not 0 <= amount_cents <= sale_amount_cents:
        raise ValueError("A commission must be between 0 and the amount of the sale.")
    now = timezone.now()
    if reversed:
        status, approved_at = Commission.Status.REVERSED, None
    elif sold_at <= now - timedelta(days=settings.COMMISSION_REFUND_WINDOW_DAYS):
        status, approved_at = Commission.Status.APPROVED, now
    else:
        status, approved_at = Commission.Status.PENDING, None
    existing = Commission.objects.filter(sale_id=sale_id).first()
    if existing is not None:
        return existing, False
    try:
        with atomic():
            commission = Commission.objects.create(
                affiliate_id=affiliate_id,
                sale_id=sale_id,
                course=course,
                buyer_email_masked=mask_email(buyer_email),
                sold_at=sold_at,
                currency=currency,
                sale_amount_cents=sale_amount_cents,
                rate_percent=rate_percent,
                amount_cents=amount_cents,
                reversed_cents=amount_cents if reversed else 0,
                status=status,
                approved_at=approved_at,
            )
    except IntegrityError:
        return Commission.objects.get(sale_id=sale_id), False
    _figures_changed(affiliate_id)
    return commission, True


def import_payout(
    *, affiliate_id: int, amount_cents: int, currency: str, method: str, reference: str
) -> tuple[Payout, bool]:
    """What the old system already paid the affiliate, as one payout; and whether it was new.

    The payout claims the affiliate's oldest commissions whose net fits in its amount (they
    become paid); the rest of the amount is carried (``carried = Σ net claimed − Σ paid``), so
    the next payout deducts it and the balance equals Σ net − amount to the cent. Re-running
    finds the payout by its reference and only claims what is still unclaimed and fits.
    """
    payout = Payout.objects.filter(affiliate_id=affiliate_id, reference=reference).first()
    created = False
    if payout is None:
        last = Payout.objects.filter(affiliate_id=affiliate_id).aggregate(last=Max("sequence"))
        try:
            with atomic():
                payout = Payout.objects.create(
                    affiliate_id=affiliate_id,
                    sequence=(last["last"] or 0) + 1,
                    amount_cents=amount_cents,
                    currency=currency,
                    method=method,
                    reference=reference,
                )
            created = True
        except IntegrityError:
            payout = Payout.objects.get(affiliate_id=affiliate_id, reference=reference)
    claimed = payout.commissions.aggregate(total=Coalesce(Sum("paid_cents"), 0))["total"]
    room = payout.amount_cents - claimed
    candidates = Commission.objects.filter(
        affiliate_id=affiliate_id,
        currency=payout.currency,
        status__in=[Commission.Status.PENDING, Commission.Status.APPROVED],
        payout__isnull=True,
    ).order_by("sold_at", "id")
    for commission_id, net in candidates.values_list("id", "amount_cents"):
        if net > room:
            break
        took = Commission.objects.filter(
            pk=commission_id,
            payout__isnull=True,
            status__in=[Commission.Status.PENDING, Commission.Status.APPROVED],
        ).update(
            payout=payout,
            status=Commission.Status.PAID,
            paid_cents=F("amount_cents") - F("reversed_cents"),
            approved_at=Coalesce(F("approved_at"), timezone.now()),
            **_FIGURES_CHANGED,
        )
        if took:
            room -= net
    # A recount, so a re-run that claims nothing more writes the same number.
    Payout.objects.filter(pk=payout.pk).update(commissions_claimed=payout.commissions.count())
    _figures_changed(affiliate_id)
    return payout, created
