"""From payment to access: fulfilment, failed and expired checkouts, refunds and disputes.

Stripe may deliver an event twice, at the same time, or out of order, and the success page races
the webhook. Each transition here is one conditional ``UPDATE … WHERE status=<expected>``, so
a second attempt finds the row already moved and does nothing; the outcome is the same as one
delivery in order.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from affiliates import services as affiliate_services
from common import outbox
from common.queue import enqueue, enqueue_on_commit, send_on_commit
from common.transactions import atomic
from grants import services as grant_services

from .. import stripe_gateway
from ..models import Enrollment
from ..selectors import with_course_title
from ..signals import enrollment_paid, payment_needs_review
from . import emails
from .refunds import apply_dispute, apply_refund, apply_refund_policy, notify_refund
from .tax import price_paid, recorded_amounts
from .transitions import as_pk, flag_for_review, sources_of, transition, transition_all

logger = logging.getLogger(__name__)

Status = Enrollment.Status

# A coupon stays reserved a little past its session's expiry, and a checkout is only expired
# here after that, so a payment made in the last minute whose webhook is late still finds both.
RESERVATION_GRACE = timedelta(minutes=15)
# Refund or dispute events landing between our read and our update, one after the other.
_MARK_PAID_ATTEMPTS = 5
# Every status a payment moves to paid (the table is fixed at import).
_PAID_SOURCES = sources_of(Status.PAID)

FULFILLED = "fulfilled"
ALREADY_FULFILLED = "already_fulfilled"
AWAITING_PAYMENT = "awaiting_payment"
AMOUNT_MISMATCH = "amount_mismatch"
DUPLICATE_PAYMENT = "duplicate_payment"
UNKNOWN_SESSION = "unknown_session"


def release_reservation(enrollment: Enrollment) -> None:
    """An unpaid checkout ended: its grant coupon (if any) becomes usable again."""
    if enrollment.grant_id:
        grant_services.release_coupon(grant_id=enrollment.grant_id, enrollment_id=enrollment.pk)


def announce_paid_on_commit(enrollment_id: int, *, enrollment: Enrollment | None = None) -> None:
    """Inside the transaction that made it paid: the confirmation e-mail joins the outbox; after
    commit, one message (``tasks.after_payment``) has a worker announce ``enrollment_paid`` (the
    hook the LMS sync listens to), send that e-mail and fetch the invoice links. The request
    pays for one publish; a lost one is recovered by the LMS, outbox and receipt sweeps, each
    from its own rows. ``enrollment``, when the caller holds it as just written (with its
    course), saves reading it again."""
    from ..tasks import after_payment

    emails.queue_confirmation(enrollment_id, enrollment=enrollment, publish=False)
    enqueue_on_commit(after_payment, enrollment_id)


def announce_paid(enrollment_id: int) -> None:
    """``tasks.after_payment``'s work, in the worker: the LMS hook first (a learner waits for
    access), then the confirmation e-mail, then the receipt links (their own retrying task)."""
    from ..tasks import fetch_invoice_links

    enrollment_paid.send(sender=Enrollment, enrollment_id=enrollment_id)
    outbox.deliver(emails.confirmation_key(enrollment_id))
    # The referrer's daily totals (the request left them to this task: two thirds of a
    # referred payment's work; a lost message leaves them to the sweep or the next view).
    affiliate_services.count_sale(sale_id=enrollment_id)
    enqueue(fetch_invoice_links, enrollment_id)


def paid_fields(now) -> dict:
    """What becoming paid writes. The LMS sync job is ``lms_sync``'s: it creates it when it
    hears ``enrollment_paid`` (``announce_paid_on_commit``), and its sweep when that is lost."""
    return {"status": Status.PAID, "paid_at": now, "expires_at": None}


# What the handlers of a session read of its enrollment: a third of the row's columns. (Another
# field is read on first use.)
_SESSION_FIELDS = (
    "email",
    "course_id",
    "grant_id",
    "affiliate_id",
    "status",
    "kind",
    "discount_cents",
    "amount_due_cents",
    "currency",
    "amount_refunded_cents",
    "tax_cents",
    "stripe_session_id",
    "dispute_status",
)


def _enrollment_for_session(session: dict) -> Enrollment | None:
    """The session's enrollment, with ``course_title`` (what the confirmation e-mail shows)
    and not its course row, which nothing here uses (the commission takes ``course_id``)."""
    # The session id is unique: no ORDER BY to build (``first()`` would add one).
    found = (
        with_course_title(Enrollment.objects.only(*_SESSION_FIELDS))
        .filter(stripe_session_id=session.get("id"))
        .order_by()[:1]
    )
    enrollment = next(iter(found), None)
    if enrollment is not None:
        return enrollment
    # Our process may have died between Stripe creating the session and us saving its id.
    reference = as_pk(session.get("client_reference_id"))
    if reference is None:
        return None
    enrollment = with_course_title(Enrollment.objects.filter(pk=reference)).first()
    if enrollment is None or enrollment.stripe_session_id not in (None, session.get("id")):
        return None
    Enrollment.objects.filter(pk=enrollment.pk, stripe_session_id__isnull=True).update(
        stripe_session_id=session.get("id")
    )
    enrollment.stripe_session_id = session.get("id")
    return enrollment


def fulfil_checkout_session(session: dict) -> str:
    """The one fulfilment function: the webhook, the success page and reconciliation call it.

    Safe to call any number of times, concurrently: only the caller whose conditional update
    moves the row to ``paid`` records the coupon, the commission and the side effects.
    """
    enrollment = _enrollment_for_session(session)
    if enrollment is None:
        logger.warning("event=fulfilment.unknown_session session=%s", session.get("id"))
        return UNKNOWN_SESSION
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        if session.get("status") == "complete":
            _hold_open(enrollment)  # ACH/SEPA: until the bank answers
        return AWAITING_PAYMENT
    if enrollment.status in (Status.PAID, Status.REFUNDED):
        # A fulfilment interrupted after committing ``paid`` may not have applied a refund or
        # dispute that overtook it, and those events will not come again: this retry does.
        if enrollment.amount_refunded_cents:
            apply_refund_policy(enrollment)
        if enrollment.dispute_status != Enrollment.Dispute.NONE:
            apply_dispute(enrollment.pk)
        return ALREADY_FULFILLED
    # The price before any tax added on top, against ours (services.tax: prices include tax).
    amount, currency = price_paid(session), str(session.get("currency") or "").lower()
    if amount != enrollment.amount_due_cents or currency != enrollment.currency:
        # The learner paid something: keep the checkout (and its coupon) for staff to settle.
        _hold_open(enrollment)
        _payment_needs_review(
            enrollment,
            f"Amount mismatch: Stripe reports {amount} {currency}, expected "
            f"{enrollment.amount_due_cents} {enrollment.currency}. Not fulfilled.",
        )
        return AMOUNT_MISMATCH
    try:
        with atomic():
            fulfilled = _mark_paid(enrollment, session=session)
    except IntegrityError:
        _payment_needs_review(
            enrollment,
            "Paid twice: the learner already owns this course through another enrollment. "
            "Refund this payment.",
        )
        return DUPLICATE_PAYMENT
    if not fulfilled:
        return ALREADY_FULFILLED
    logger.info(
        "event=payment.fulfilled enrollment_id=%s kind=%s amount=%s currency=%s",
        enrollment.pk,
        enrollment.kind,
        enrollment.amount_due_cents,
        enrollment.currency,
    )
    if enrollment.amount_refunded_cents:
        # A refund event overtook the payment event: apply it now, and tell the learner, as if
        # the events had come in order.
        apply_refund(enrollment_id=enrollment.pk, refunded_cents=enrollment.amount_refunded_cents)
        notify_refund(enrollment.pk)
    if enrollment.dispute_status != Enrollment.Dispute.NONE:
        apply_dispute(enrollment.pk)  # a dispute overtook the payment event too
    return FULFILLED


def _payment_needs_review(enrollment: Enrollment, reason: str) -> None:
    """Flag it; the first time for this reason, ``ops`` hears of it (incident, staff e-mail)."""
    if flag_for_review(enrollment.pk, reason):
        send_on_commit(payment_needs_review, Enrollment, enrollment_id=enrollment.pk)


def _hold_open(enrollment: Enrollment) -> None:
    """Keep a pending checkout (and its coupon) open with no expiry: the learner completed it and
    its outcome is not ours to decide by the clock (a delayed bank payment, or staff review)."""
    Enrollment.objects.filter(pk=enrollment.pk, status=Status.PENDING).update(expires_at=None)
    if enrollment.grant_id:
        grant_services.hold_coupon_until_payment_result(
            grant_id=enrollment.grant_id, enrollment_id=enrollment.pk
        )


def _mark_paid(enrollment: Enrollment, *, session: dict) -> bool:
    """``→ paid``, then the coupon and the commission, in one transaction.

    The same update keeps Stripe's subtotal, tax, total and invoice id. Each step is safe to
    re-run on its own (coupon redemption and commission recording are idempotent), so
    reconciliation can finish whatever an interrupted run left undone.
    """
    now = timezone.now()
    amounts = recorded_amounts(session)
    # From any status the table lets reach paid (transitions.ALLOWED): the money was taken, so
    # the learner gets the course even if our side had given up on the checkout.
    sources = _PAID_SOURCES
    for _attempt in range(_MARK_PAID_ATTEMPTS):
        # Only over the refund and dispute we read: the caller applies those after commit, so
        # one recorded meanwhile (they may overtake the payment) must not go unseen. A refund
        # or dispute writes its row first and reads the status after, so either our update
        # finds its write (no row moves: read again, try again) or it finds the row paid.
        if transition(
            enrollment.pk,
            sources,
            Status.PAID,
            only_if={
                "amount_refunded_cents": enrollment.amount_refunded_cents,
                "dispute_status": enrollment.dispute_status,
            },
            stripe_payment_intent_id=session.get("payment_intent") or "",
            **amounts,
            **paid_fields(now),
        ):
            break
        current = (
            Enrollment.objects.filter(pk=enrollment.pk)
            .values("status", "amount_refunded_cents", "dispute_status")
            .first()
        )
        if current is None or current["status"] not in sources:
            return False  # another delivery made it paid (or it is refunded): nothing to do
        enrollment.amount_refunded_cents = current["amount_refunded_cents"]
        enrollment.dispute_status = current["dispute_status"]
    else:
        raise RuntimeError(f"Enrollment {enrollment.pk} kept changing; fulfil it again.")
    for field, value in {**amounts, **paid_fields(now)}.items():
        setattr(enrollment, field, value)
    record_sale_side_effects(enrollment, sold_at=now)
    announce_paid_on_commit(enrollment.pk, enrollment=enrollment)
    return True


def record_sale_side_effects(enrollment: Enrollment, *, sold_at) -> None:
    """The grant coupon is redeemed and the affiliate's commission recorded (both idempotent)."""
    if enrollment.grant_id and enrollment.kind == Enrollment.Kind.PARTIAL_GRANT:
        redeemed = grant_services.redeem_coupon(
            grant_id=enrollment.grant_id, enrollment_id=enrollment.pk
        )
        if not redeemed:
            flag_for_review(
                enrollment.pk,
                "Paid at the grant price, but the coupon reservation had been released. "
                "Check the grant before it is used again.",
            )
    if enrollment.affiliate_id:
        # Counted into the daily totals by the payment's task (``announce_paid``).
        record_commission_for(enrollment, sold_at=sold_at, count_now=False)


def record_commission_for(enrollment: Enrollment, *, sold_at, count_now: bool = True):
    """The affiliate's commission on this sale (idempotent; None when nothing is earned).

    It is computed on the amount before tax: an affiliate does not earn on VAT. ``count_now``:
    see ``affiliates.services.record_commission`` (a payment counts it in ``announce_paid``).
    """
    return affiliate_services.record_commission(
        count_now=count_now,
        affiliate_id=enrollment.affiliate_id,
        sale_id=enrollment.pk,
        course_id=enrollment.course_id,
        buyer_email=enrollment.email,
        amount_paid_cents=enrollment.amount_before_tax_cents,
        currency=enrollment.currency,
        sold_at=sold_at,
    )


def fail_checkout_session(session: dict) -> str:
    """The delayed payment failed: the checkout is over, its coupon freed, the learner told."""
    enrollment = _enrollment_for_session(session)
    if enrollment is None:
        return UNKNOWN_SESSION
    with atomic():
        if not transition(enrollment.pk, Status.PENDING, Status.FAILED):
            return "unchanged"
        emails.queue_payment_failed_notice(enrollment.pk)
    logger.info("event=payment.failed enrollment_id=%s", enrollment.pk)
    release_reservation(enrollment)
    return "failed"


def expire_checkout_session(session: dict) -> str:
    enrollment = _enrollment_for_session(session)
    if enrollment is None:
        return UNKNOWN_SESSION
    if not transition(enrollment.pk, Status.PENDING, Status.EXPIRED):
        return "unchanged"
    logger.info("event=checkout.expired enrollment_id=%s", enrollment.pk)
    release_reservation(enrollment)
    return "expired"


def expire_stale_checkouts(*, now=None) -> int:
    """Close checkouts whose Stripe session has expired (backs up a lost ``expired`` event).

    Checkouts waiting for a delayed bank payment have no expiry and are left alone.
    """
    now = now or timezone.now()
    stale = Enrollment.objects.filter(status=Status.PENDING, expires_at__lt=now - RESERVATION_GRACE)
    coupon_holders = list(stale.exclude(grant=None).values_list("pk", "grant_id"))
    expired = transition_all(stale, Status.PENDING, Status.EXPIRED)
    # Release is conditional on the coupon still being reserved by that enrollment, so a
    # checkout paid in the meantime (its coupon already redeemed) is left untouched.
    for enrollment_id, grant_id in coupon_holders:
        grant_services.release_coupon(grant_id=grant_id, enrollment_id=enrollment_id)
    return expired


def refresh_from_stripe(enrollment: Enrollment) -> str | None:
    """Ask Stripe about a pending checkout and fulfil it if paid (the success page's path, for
    a webhook that is late or lost). At most once per ``STRIPE_REFRESH_COOLDOWN_SECONDS`` per
    enrollment, whatever the number of tabs, reloads and workers: the caller that moves
    ``stripe_checked_at`` past the cooldown (one conditional update) asks; the others read our
    database only. None when nothing was asked or nothing changed."""
    if enrollment.status != Status.PENDING or not enrollment.stripe_session_id:
        return None
    now = timezone.now()
    cooled_down = Q(stripe_checked_at__isnull=True) | Q(
        stripe_checked_at__lte=now - timedelta(seconds=settings.STRIPE_REFRESH_COOLDOWN_SECONDS)
    )
    claimed = Enrollment.objects.filter(
        cooled_down, pk=enrollment.pk, status=Status.PENDING
    ).update(stripe_checked_at=now)
    if not claimed:
        return None
    try:
        session = stripe_gateway.retrieve_checkout_session(enrollment.stripe_session_id)
    except (stripe_gateway.GatewayError, stripe_gateway.PaymentsNotConfigured):
        return None
    return fulfil_checkout_session(session)
