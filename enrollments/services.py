"""Checkout, fulfilment and refunds: every write to an Enrollment goes through here.

Each transition is one conditional ``UPDATE … WHERE status=<expected>`` whose row count decides
who won, or an insert guarded by a unique constraint. Stripe may deliver an event twice, at the
same time, or out of order, and the success page races the webhook; the outcome is the same as
one delivery in order, because a second attempt finds the row already moved and does nothing.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import normalize_email
from courses.models import Course
from courses.money import format_money

from . import stripe_gateway
from .models import Enrollment, StripeEvent
from .signals import enrollment_paid, enrollment_revoked

logger = logging.getLogger(__name__)

Status = Enrollment.Status

# States from which a confirmed payment still fulfils: the money was taken, so the learner gets
# the course even if our side had already given up on the checkout (expired/canceled/failed).
FULFILLABLE = [Status.PENDING, Status.EXPIRED, Status.FAILED, Status.CANCELED]

# A pending checkout this close to its expiry is not handed out again.
REUSE_MARGIN = timedelta(minutes=5)


class CheckoutError(Exception):
    """A checkout that cannot go ahead; ``message`` is safe to show the learner."""

    message = "We could not start your checkout."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message


class AlreadyEnrolled(CheckoutError):
    message = "You are already enrolled in this course."


class PaymentsUnavailable(CheckoutError):
    message = (
        "Paid checkout is not set up on this site yet. An administrator must set "
        "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET (see the README)."
    )


class CheckoutFailed(CheckoutError):
    message = (
        "Our payment provider could not be reached, so nothing was charged. "
        "Please try again in a few minutes."
    )


class PaymentInProgress(CheckoutError):
    message = (
        "A payment for this course is still being confirmed. We will e-mail you as soon as "
        "it completes; there is no need to pay again."
    )


@dataclass(frozen=True)
class CheckoutTerms:
    """What the learner pays, decided on the server."""

    list_price_cents: int
    currency: str
    discount_cents: int = 0
    kind: str = Enrollment.Kind.PAID

    @property
    def amount_due_cents(self) -> int:
        return self.list_price_cents - self.discount_cents


# --- Checkout --------------------------------------------------------------------------------


def start_checkout(*, course: Course, email: str, user=None) -> Enrollment:
    """Open (or reuse) a pending enrollment with a Stripe Checkout Session for it.

    Returns the enrollment; its ``checkout_url`` is where the learner pays.
    """
    email = normalize_email(email)
    if Enrollment.objects.filter(email=email, course=course, status=Status.PAID).exists():
        raise AlreadyEnrolled()
    if not stripe_gateway.is_configured():
        raise PaymentsUnavailable()
    terms = CheckoutTerms(list_price_cents=course.price_cents, currency=course.currency)
    enrollment = _pending_enrollment(course=course, email=email, user=user, terms=terms)
    if enrollment.checkout_url:
        return enrollment
    return _attach_checkout_session(enrollment, course)


def _pending_enrollment(*, course: Course, email: str, user, terms: CheckoutTerms) -> Enrollment:
    """The one open checkout for (email, course): reused if its terms still hold, else replaced.

    The partial unique constraint on pending enrollments decides between concurrent requests:
    the loser of the insert reuses the winner's row.
    """
    for _ in range(3):
        existing = Enrollment.objects.filter(
            email=email, course=course, status=Status.PENDING
        ).first()
        if existing is not None:
            if _reusable(existing, terms):
                return existing
            _close_pending(existing)
            continue
        try:
            with transaction.atomic():
                return Enrollment.objects.create(
                    email=email,
                    user=user if user is not None and user.is_authenticated else None,
                    course=course,
                    kind=terms.kind,
                    list_price_cents=terms.list_price_cents,
                    discount_cents=terms.discount_cents,
                    amount_due_cents=terms.amount_due_cents,
                    currency=terms.currency,
                    expires_at=timezone.now()
                    + timedelta(minutes=settings.CHECKOUT_SESSION_MINUTES),
                )
        except IntegrityError:
            continue
    raise CheckoutFailed()


def _reusable(enrollment: Enrollment, terms: CheckoutTerms) -> bool:
    if enrollment.expires_at is None:
        # Checkout completed with a delayed payment method: the bank has not answered yet.
        raise PaymentInProgress()
    same_terms = (
        enrollment.kind == terms.kind
        and enrollment.amount_due_cents == terms.amount_due_cents
        and enrollment.currency == terms.currency
    )
    return same_terms and enrollment.expires_at > timezone.now() + REUSE_MARGIN


def _close_pending(enrollment: Enrollment) -> None:
    """Retire an open checkout that cannot be reused: stale ones expire, others are canceled."""
    if enrollment.expires_at and enrollment.expires_at <= timezone.now() + REUSE_MARGIN:
        _transition(enrollment.pk, Status.PENDING, Status.EXPIRED)
        return
    if enrollment.stripe_session_id:
        try:
            stripe_gateway.expire_checkout_session(enrollment.stripe_session_id)
        except stripe_gateway.GatewayError:
            # Not open any more: it may have been paid a moment ago. Let Stripe's word decide.
            session = stripe_gateway.retrieve_checkout_session(enrollment.stripe_session_id)
            if fulfil_checkout_session(session) in (FULFILLED, ALREADY_FULFILLED):
                raise AlreadyEnrolled()
            if session.get("status") != "expired":
                raise PaymentInProgress()
    _transition(enrollment.pk, Status.PENDING, Status.CANCELED)


def _transition(enrollment_id: int, from_status: str, to_status: str, **fields) -> bool:
    return bool(
        Enrollment.objects.filter(pk=enrollment_id, status=from_status).update(
            status=to_status, **fields
        )
    )


def _attach_checkout_session(enrollment: Enrollment, course: Course) -> Enrollment:
    success_url = (
        settings.SITE_URL
        + reverse("enrollments:checkout_success")
        + "?session_id={CHECKOUT_SESSION_ID}"
    )
    cancel_url = settings.SITE_URL + reverse("enrollments:checkout_cancel", args=[course.slug])
    try:
        session = stripe_gateway.create_checkout_session(
            enrollment_id=enrollment.pk,
            course_title=course.title,
            amount_cents=enrollment.amount_due_cents,
            currency=enrollment.currency,
            customer_email=enrollment.email,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=enrollment.expires_at,
        )
    except stripe_gateway.GatewayError:
        Enrollment.objects.filter(
            pk=enrollment.pk, status=Status.PENDING, stripe_session_id__isnull=True
        ).update(status=Status.FAILED)
        raise CheckoutFailed()
    Enrollment.objects.filter(pk=enrollment.pk, status=Status.PENDING).filter(
        Q(stripe_session_id__isnull=True) | Q(stripe_session_id=session.id)
    ).update(stripe_session_id=session.id, checkout_url=session.url, expires_at=session.expires_at)
    enrollment.refresh_from_db()
    logger.info(
        "event=checkout.created enrollment_id=%s kind=%s amount=%s currency=%s",
        enrollment.pk,
        enrollment.kind,
        enrollment.amount_due_cents,
        enrollment.currency,
    )
    if enrollment.stripe_session_id != session.id or not enrollment.checkout_url:
        raise CheckoutFailed()
    return enrollment


# --- Fulfilment ------------------------------------------------------------------------------

FULFILLED = "fulfilled"
ALREADY_FULFILLED = "already_fulfilled"
AWAITING_PAYMENT = "awaiting_payment"
AMOUNT_MISMATCH = "amount_mismatch"
DUPLICATE_PAYMENT = "duplicate_payment"
UNKNOWN_SESSION = "unknown_session"


def _enrollment_for_session(session: dict) -> Enrollment | None:
    enrollment = Enrollment.objects.filter(stripe_session_id=session.get("id")).first()
    if enrollment is not None:
        return enrollment
    # Our process may have died between Stripe creating the session and us saving its id.
    reference = str(session.get("client_reference_id") or "")
    if not reference.isdigit():
        return None
    enrollment = Enrollment.objects.filter(pk=int(reference)).first()
    if enrollment is None or enrollment.stripe_session_id not in (None, session.get("id")):
        return None
    Enrollment.objects.filter(pk=enrollment.pk, stripe_session_id__isnull=True).update(
        stripe_session_id=session.get("id")
    )
    enrollment.stripe_session_id = session.get("id")
    return enrollment


def flag_for_review(enrollment_id: int, reason: str) -> None:
    logger.warning("event=enrollment.flagged enrollment_id=%s reason=%r", enrollment_id, reason)
    Enrollment.objects.filter(pk=enrollment_id).exclude(review_reason=reason).update(
        needs_review=True, review_reason=reason[:300]
    )


def fulfil_checkout_session(session: dict) -> str:
    """The one fulfilment function: the webhook, the success page and reconciliation call it.

    Safe to call any number of times, concurrently: only the caller whose conditional update
    moves the row to ``paid`` triggers the side effects.
    """
    enrollment = _enrollment_for_session(session)
    if enrollment is None:
        logger.warning("event=fulfilment.unknown_session session=%s", session.get("id"))
        return UNKNOWN_SESSION
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        if session.get("status") == "complete":
            # Delayed payment (ACH, SEPA): keep the checkout open until the bank answers.
            Enrollment.objects.filter(pk=enrollment.pk, status=Status.PENDING).update(
                expires_at=None
            )
        return AWAITING_PAYMENT
    if enrollment.status in (Status.PAID, Status.REFUNDED):
        return ALREADY_FULFILLED
    amount, currency = session.get("amount_total"), str(session.get("currency") or "").lower()
    if amount != enrollment.amount_due_cents or currency != enrollment.currency:
        flag_for_review(
            enrollment.pk,
            f"Amount mismatch: Stripe reports {amount} {currency}, expected "
            f"{enrollment.amount_due_cents} {enrollment.currency}. Not fulfilled.",
        )
        return AMOUNT_MISMATCH
    try:
        with transaction.atomic():
            fulfilled = _mark_paid(enrollment, payment_intent=session.get("payment_intent"))
    except IntegrityError:
        flag_for_review(
            enrollment.pk,
            "Paid twice: the learner already owns this course through another enrollment. "
            "Refund this payment.",
        )
        return DUPLICATE_PAYMENT
    if not fulfilled:
        return ALREADY_FULFILLED
    logger.info(
        "event=payment.fulfilled enrollment_id=%s amount=%s currency=%s",
        enrollment.pk,
        enrollment.amount_due_cents,
        enrollment.currency,
    )
    enrollment.refresh_from_db(fields=["amount_refunded_cents"])
    if enrollment.amount_refunded_cents:
        # A refund event overtook the payment event: apply it now, as if in order.
        apply_refund(enrollment_id=enrollment.pk, refunded_cents=enrollment.amount_refunded_cents)
    return FULFILLED


def _mark_paid(enrollment: Enrollment, *, payment_intent: str | None) -> bool:
    """``→ paid`` and, in the same UPDATE, the LMS sync job for it."""
    now = timezone.now()
    updated = Enrollment.objects.filter(pk=enrollment.pk, status__in=FULFILLABLE).update(
        status=Status.PAID,
        paid_at=now,
        stripe_payment_intent_id=payment_intent or "",
        lms_status=Enrollment.LmsStatus.PENDING,
        lms_action=Enrollment.LmsAction.ENROL,
        lms_attempts=0,
        lms_next_attempt_at=now,
    )
    if updated:
        transaction.on_commit(partial(_announce_paid, enrollment.pk))
    return bool(updated)


def _announce_paid(enrollment_id: int) -> None:
    from .tasks import send_enrollment_confirmation

    send_enrollment_confirmation.delay(enrollment_id)
    enrollment_paid.send(sender=Enrollment, enrollment_id=enrollment_id)


def fail_checkout_session(session: dict) -> str:
    """The delayed payment failed: the checkout is over and the learner is told."""
    enrollment = _enrollment_for_session(session)
    if enrollment is None:
        return UNKNOWN_SESSION
    if _transition(enrollment.pk, Status.PENDING, Status.FAILED):
        from .tasks import send_payment_failed_notice

        transaction.on_commit(partial(send_payment_failed_notice.delay, enrollment.pk))
        return "failed"
    return "unchanged"


def expire_checkout_session(session: dict) -> str:
    enrollment = _enrollment_for_session(session)
    if enrollment is None:
        return UNKNOWN_SESSION
    return "expired" if _transition(enrollment.pk, Status.PENDING, Status.EXPIRED) else "unchanged"


def expire_stale_checkouts(*, now=None) -> int:
    """Close checkouts whose Stripe session has expired (backs up a lost ``expired`` event)."""
    now = now or timezone.now()
    return Enrollment.objects.filter(status=Status.PENDING, expires_at__lt=now).update(
        status=Status.EXPIRED
    )


def refresh_from_stripe(enrollment: Enrollment) -> str | None:
    """Ask Stripe about a pending checkout and fulfil it if paid (the success page's path)."""
    if enrollment.status != Status.PENDING or not enrollment.stripe_session_id:
        return None
    try:
        session = stripe_gateway.retrieve_checkout_session(enrollment.stripe_session_id)
    except (stripe_gateway.GatewayError, stripe_gateway.PaymentsNotConfigured):
        return None
    return fulfil_checkout_session(session)


# --- Refunds and disputes --------------------------------------------------------------------


def _enrollment_for_charge(charge: dict) -> Enrollment | None:
    payment_intent = charge.get("payment_intent")
    if payment_intent:
        enrollment = Enrollment.objects.filter(stripe_payment_intent_id=payment_intent).first()
        if enrollment is not None:
            return enrollment
    # payment_intent_data.metadata is copied onto the charge: it finds the enrollment even
    # when the refund event overtakes the payment event.
    reference = str((charge.get("metadata") or {}).get("enrollment_id") or "")
    return Enrollment.objects.filter(pk=int(reference)).first() if reference.isdigit() else None


def apply_refund(*, enrollment_id: int, refunded_cents: int) -> str:
    """Record Stripe's cumulative ``amount_refunded``; a full refund revokes access.

    Cumulative and monotonic: a replayed or older event can never lower what was recorded.
    """
    enrollment = Enrollment.objects.get(pk=enrollment_id)
    refunded = min(max(refunded_cents, 0), enrollment.amount_due_cents)
    Enrollment.objects.filter(pk=enrollment_id, amount_refunded_cents__lt=refunded).update(
        amount_refunded_cents=refunded
    )
    if refunded < enrollment.amount_due_cents:
        return "partially_refunded" if refunded else "unchanged"
    revoked = _transition(
        enrollment_id,
        Status.PAID,
        Status.REFUNDED,
        lms_action=Enrollment.LmsAction.UNENROL,
        lms_status=Enrollment.LmsStatus.PENDING,
        lms_attempts=0,
        lms_next_attempt_at=timezone.now(),
        lms_last_error="",
    )
    if revoked:
        logger.info("event=enrollment.refunded enrollment_id=%s", enrollment_id)
        transaction.on_commit(
            partial(enrollment_revoked.send, sender=Enrollment, enrollment_id=enrollment_id)
        )
        return "refunded"
    return "unchanged"


def record_charge_refund(charge: dict) -> str:
    enrollment = _enrollment_for_charge(charge)
    if enrollment is None:
        logger.warning("event=refund.unknown_charge charge=%s", charge.get("id"))
        return "unknown_charge"
    refunded = charge.get("amount_refunded")
    if not isinstance(refunded, int):
        raise ValueError("charge.amount_refunded missing")
    return apply_refund(enrollment_id=enrollment.pk, refunded_cents=refunded)


def record_dispute(dispute: dict) -> str:
    enrollment = _enrollment_for_charge(
        {"payment_intent": dispute.get("payment_intent"), "metadata": dispute.get("metadata")}
    )
    if enrollment is None:
        logger.warning("event=dispute.unknown_charge dispute=%s", dispute.get("id"))
        return "unknown_charge"
    amount = dispute.get("amount")
    flag_for_review(
        enrollment.pk,
        f"Dispute {dispute.get('id')} opened ({dispute.get('reason') or 'no reason'}, "
        f"{dispute.get('status')}) for {format_money(int(amount or 0), enrollment.currency)}.",
    )
    return "flagged"


# --- Stripe event inbox ----------------------------------------------------------------------

_HANDLERS = {
    "checkout.session.completed": fulfil_checkout_session,
    "checkout.session.async_payment_succeeded": fulfil_checkout_session,
    "checkout.session.async_payment_failed": fail_checkout_session,
    "checkout.session.expired": expire_checkout_session,
    "charge.refunded": record_charge_refund,
    "charge.dispute.created": record_dispute,
}
DONE_OUTCOMES = (StripeEvent.Outcome.PROCESSED, StripeEvent.Outcome.IGNORED)


def record_stripe_event(event: dict) -> tuple[StripeEvent, bool]:
    """Store a verified event once; the unique event id turns a repeat into ``created=False``."""
    try:
        with transaction.atomic():
            return (
                StripeEvent.objects.create(event_id=event["id"], type=event["type"], payload=event),
                True,
            )
    except IntegrityError:
        return StripeEvent.objects.get(event_id=event["id"]), False


def process_stripe_event(stripe_event: StripeEvent) -> str:
    """Apply an event through its handler; every handler is idempotent, so reprocessing is safe.

    A handler error marks the event failed and re-raises, so the webhook answers 500 and
    Stripe retries (and staff can reprocess it from the admin).
    """
    handler = _HANDLERS.get(stripe_event.type)
    now = timezone.now()
    if handler is None:
        StripeEvent.objects.filter(pk=stripe_event.pk).update(
            outcome=StripeEvent.Outcome.IGNORED, processed_at=now
        )
        return "ignored"
    StripeEvent.objects.filter(pk=stripe_event.pk).update(attempts=F("attempts") + 1)
    try:
        result = handler(stripe_event.payload["data"]["object"])
    except Exception as error:
        logger.exception(
            "event=stripe_event.failed stripe_event=%s type=%s",
            stripe_event.event_id,
            stripe_event.type,
        )
        StripeEvent.objects.filter(pk=stripe_event.pk).update(
            outcome=StripeEvent.Outcome.FAILED, error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise
    StripeEvent.objects.filter(pk=stripe_event.pk).update(
        outcome=StripeEvent.Outcome.PROCESSED, processed_at=timezone.now(), result=result, error=""
    )
    logger.info(
        "event=stripe_event.processed stripe_event=%s type=%s result=%s",
        stripe_event.event_id,
        stripe_event.type,
        result,
    )
    return result


# --- Reconciliation --------------------------------------------------------------------------


def reconcile_completed_sessions(*, since) -> list[tuple[str, str]]:
    """Fulfil every complete Checkout Session since ``since`` whose webhook never arrived.

    Returns ``(session id, outcome)`` for each session it fulfilled; mismatches and double
    payments are flagged on the enrollment for staff, as on the live path.
    """
    changed = []
    for session in stripe_gateway.completed_checkout_sessions(created_since=since):
        outcome = fulfil_checkout_session(session)
        if outcome == FULFILLED:
            changed.append((session["id"], outcome))
    return changed
