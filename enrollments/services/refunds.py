"""One refund policy, whoever starts the refund: staff in our admin, or Stripe's dashboard.

A refund made here calls Stripe's Refunds API, then applies the policy at once; the
``charge.refunded`` event Stripe sends afterwards applies the same policy again, which changes
nothing. A refund made in Stripe's dashboard arrives only as that event and ends the same way.

The policy (``apply_refund_policy``):
- the refunded amount is Stripe's cumulative total: it only ever grows, so replays are harmless;
- the affiliate's commission is reversed in proportion to the refunded share;
- access is revoked (``enrollment_revoked``: lms_sync unenrols) on a full refund, or on a partial
  one when staff chose so; a 100% grant (nothing to give back to the card) can be "refunded" to
  revoke access;
- the grant coupon is given back only when staff chose so.

Disputes (``record_dispute``, ``record_dispute_closed``): an open dispute suspends access and
holds the commission; a won dispute restores both; a lost one ends like a full refund. A
suspension is not a revocation: lms_sync's suspend job keeps the learner's progress before
removing the LMS enrolment, and the restore enrols them again with it.
"""

import logging

from django.db import IntegrityError

from affiliates import services as affiliate_services
from common.money import format_money
from common.queue import send_on_commit
from common.refund_policy import refund_policy
from common.transactions import atomic
from grants import services as grant_services

from .. import stripe_gateway
from ..errors import RefundError
from ..models import Enrollment, RefundRequest
from ..selectors import RefundPreview
from ..signals import enrollment_paid, enrollment_revoked, enrollment_suspended
from . import emails
from .transitions import as_pk, flag_for_review, transition

logger = logging.getLogger(__name__)

Status = Enrollment.Status


# --- Staff refunds: preview (``selectors.preview_refund``), then confirm ----------------------


def refund_enrollment(
    *, preview: RefundPreview, confirmed_total_cents: int, reason: str, staff_user
) -> RefundRequest:
    """Make the refund the preview described, if the refunded total staff confirmed is still
    the one it leads to. A second confirmation of the same refund (double click, back button)
    finds the same request and the same Stripe idempotency key."""
    if confirmed_total_cents != preview.refunded_total_cents:
        raise RefundError("The enrollment changed since the preview; check the new preview.")
    enrollment = preview.enrollment
    request = _refund_request(preview=preview, reason=reason, staff_user=staff_user)
    if request.amount_cents and not request.stripe_refund_id:
        try:
            refund = stripe_gateway.create_refund(
                payment_intent=enrollment.stripe_payment_intent_id,
                amount_cents=request.amount_cents,
                idempotency_key=request.idempotency_key,
                metadata={"enrollment_id": str(enrollment.pk), "refund_request": str(request.pk)},
            )
        except stripe_gateway.PaymentsNotConfigured:
            RefundRequest.objects.filter(pk=request.pk, stripe_refund_id="").delete()
            raise RefundError("Stripe is not configured; nothing was refunded.")
        except stripe_gateway.GatewayError as error:
            if error.refused:
                # Certainly nothing was refunded: forget the request so its policy never applies.
                RefundRequest.objects.filter(pk=request.pk, stripe_refund_id="").delete()
                raise RefundError("Stripe did not accept the refund; nothing was refunded.")
            # Maybe refunded: keep the request (its policy and idempotency key) for the retry.
            raise RefundError(
                "Stripe did not answer, so the refund may or may not have been made. Confirm "
                "the same refund again: it is sent with the same idempotency key and cannot be "
                "made twice."
            )
        RefundRequest.objects.filter(pk=request.pk).update(stripe_refund_id=refund["id"])
    logger.info(
        "event=refund.requested enrollment_id=%s amount=%s revoke=%s",
        enrollment.pk,
        request.amount_cents,
        request.revoke_access,
    )
    apply_refund(enrollment_id=enrollment.pk, refunded_cents=request.refunded_total_cents)
    return request


def _refund_request(*, preview: RefundPreview, reason: str, staff_user) -> RefundRequest:
    """The one request for the preview's target total: ours, or the one a simultaneous
    confirmation inserted. That one may be gone again by the time we read it (Stripe refused it
    and it was deleted): then the insert is ours to try again.

    Each lost insert whose row is already gone is another confirmation's whole attempt (its
    one insert, Stripe's refusal, its delete), so with N confirmations at once one loses at
    most N - 1 times. ``_REQUEST_ATTEMPTS`` is above any burst of clicks (three were not enough
    for eight at once: a confirmation lost to three others in turn and answered "being
    processed" instead of Stripe's refusal), and still bounded for an insert refused for
    another reason (the staff user deleted meanwhile)."""
    for _ in range(_REQUEST_ATTEMPTS):
        try:
            with atomic():
                return RefundRequest.objects.create(
                    enrollment=preview.enrollment,
                    amount_cents=preview.amount_cents,
                    refunded_total_cents=preview.refunded_total_cents,
                    revoke_access=preview.revoke_access,
                    restore_coupon=preview.restore_coupon,
                    reason=reason[:500],
                    created_by=staff_user,
                )
        except IntegrityError:
            existing = RefundRequest.objects.filter(
                enrollment=preview.enrollment, refunded_total_cents=preview.refunded_total_cents
            ).first()
            if existing is not None:
                return existing
    raise RefundError(
        "Another confirmation of this refund is being processed; reload the enrollment to see "
        "how it ended."
    )


_REQUEST_ATTEMPTS = 16


# --- The policy, shared by staff refunds and Stripe's refund events -------------------------


def apply_refund(*, enrollment_id: int, refunded_cents: int) -> str:
    """Record Stripe's cumulative refunded amount, then apply the refund policy."""
    amount_due = Enrollment.objects.values_list("amount_due_cents", flat=True).get(pk=enrollment_id)
    refunded = min(max(refunded_cents, 0), amount_due)
    grew = Enrollment.objects.filter(pk=enrollment_id, amount_refunded_cents__lt=refunded).update(
        amount_refunded_cents=refunded
    )
    # Read after writing: a fulfilment committing meanwhile is either seen here (paid) or sees
    # our amount when it re-reads after its own update; either way the policy runs once paid.
    enrollment = Enrollment.objects.get(pk=enrollment_id)
    if grew:
        logger.info(
            "event=refund.recorded enrollment_id=%s refunded_cents=%s", enrollment_id, refunded
        )
    outcome = apply_refund_policy(enrollment)
    # Every run, not only when the total grew: the outbox key holds one notice per total, so a
    # replayed event sends nothing twice and repairs a notice a crash kept from being queued.
    notify_refund(enrollment_id)
    return outcome


def notify_refund(enrollment_id: int) -> None:
    """Queue the e-mail telling the learner the refunded total as the row has it now (once per
    total; nothing before the enrollment is paid, see ``emails.queue_refund_notice``)."""
    emails.queue_refund_notice(enrollment_id)


def apply_refund_policy(enrollment: Enrollment) -> str:
    """Bring commission, access and coupon in line with what was refunded. Idempotent."""
    if enrollment.status not in (Status.PAID, Status.REFUNDED):
        return "unchanged"  # a refund that overtook the payment: applied at fulfilment
    refunded = enrollment.amount_refunded_cents
    requests = list(enrollment.refund_requests.values_list("revoke_access", "restore_coupon"))
    if enrollment.affiliate_id and refunded:
        affiliate_services.reverse_commission(
            sale_id=enrollment.pk,
            refunded_cents_total=refunded,
            charged_cents=enrollment.amount_due_cents,
        )
    policy = refund_policy()
    full = refunded >= enrollment.amount_due_cents and (refunded > 0 or bool(requests))
    revoke = policy.revokes_access(
        full=full, staff_chose_to_revoke=any(revoke for revoke, _ in requests)
    )
    if policy.gives_coupon_back(
        used_a_coupon=enrollment.grant_id is not None,
        staff_chose_to_restore=any(restore for _, restore in requests),
    ):
        grant_services.restore_coupon(grant_id=enrollment.grant_id, enrollment_id=enrollment.pk)
    if revoke and revoke_access(enrollment.pk):
        logger.info("event=enrollment.refunded enrollment_id=%s full=%s", enrollment.pk, full)
        return "refunded"
    return "partially_refunded" if refunded else "unchanged"


def revoke_access(enrollment_id: int) -> bool:
    """paid → refunded; ``lms_sync`` hears ``enrollment_revoked`` and unenrols the learner."""
    revoked = transition(enrollment_id, Status.PAID, Status.REFUNDED)
    if revoked:
        send_on_commit(enrollment_revoked, Enrollment, enrollment_id=enrollment_id)
    return revoked


def _enrollment_for_charge(charge: dict) -> Enrollment | None:
    payment_intent = charge.get("payment_intent")
    if payment_intent:
        enrollment = Enrollment.objects.filter(stripe_payment_intent_id=payment_intent).first()
        if enrollment is not None:
            return enrollment
    # payment_intent_data.metadata is copied onto the charge: it finds the enrollment even
    # when the refund event overtakes the payment event.
    reference = as_pk((charge.get("metadata") or {}).get("enrollment_id"))
    return Enrollment.objects.filter(pk=reference).first() if reference is not None else None


def record_charge_refund(charge: dict) -> str:
    enrollment = _enrollment_for_charge(charge)
    if enrollment is None:
        logger.warning("event=refund.unknown_charge charge=%s", charge.get("id"))
        return "unknown_charge"
    refunded = charge.get("amount_refunded")
    if not isinstance(refunded, int):
        raise ValueError("charge.amount_refunded missing")
    return apply_refund(enrollment_id=enrollment.pk, refunded_cents=refunded)


# --- Disputes --------------------------------------------------------------------------------
#
# ``dispute_status`` records what Stripe said about the charge's dispute (a charge has at most
# one): none → open → won or lost, and a closing that arrives before the opening goes straight
# to won or lost; a closed dispute never reopens. ``apply_dispute`` then brings access and the
# commission in line with that status, whatever order the events (and the payment's own events)
# came in, so every delivery order ends in the same state.


def _enrollment_for_dispute(dispute: dict) -> Enrollment | None:
    """The disputed enrollment. Stripe copies none of the payment's metadata onto a dispute, and
    the dispute may arrive before the payment's own events: then Stripe is asked whose payment it
    is (our ``enrollment_id`` is on the PaymentIntent and its Charge). A Stripe that does not
    answer raises ``GatewayError``, so the event fails and Stripe delivers it again."""
    payment_intent = dispute.get("payment_intent")
    if payment_intent:
        enrollment = Enrollment.objects.filter(stripe_payment_intent_id=payment_intent).first()
        if enrollment is not None:
            return enrollment
    try:
        if payment_intent:
            payment = stripe_gateway.retrieve_payment_intent(payment_intent)
        elif dispute.get("charge"):
            payment = stripe_gateway.retrieve_charge(dispute["charge"])
            payment_intent = payment.get("payment_intent")
        else:
            return None
    except stripe_gateway.PaymentsNotConfigured:
        return None
    except stripe_gateway.GatewayError as error:
        if error.refused:  # Stripe does not know that payment: not one of ours
            return None
        raise
    metadata = payment.get("metadata")
    reference = as_pk(metadata.get("enrollment_id")) if isinstance(metadata, dict) else None
    enrollment = Enrollment.objects.filter(pk=reference).first() if reference is not None else None
    if enrollment is None or enrollment.stripe_payment_intent_id not in ("", payment_intent):
        return None
    return enrollment


def record_dispute(dispute: dict) -> str:
    """A dispute opened: access is suspended, the commission held, staff alerted. Once the
    dispute is known closed (its closing overtook it), the opening changes nothing."""
    enrollment = _enrollment_for_dispute(dispute)
    if enrollment is None:
        logger.warning("event=dispute.unknown_charge dispute=%s", dispute.get("id"))
        return "unknown_charge"
    with atomic():  # the opening, its flag and its staff alert commit together
        opened = Enrollment.objects.filter(
            pk=enrollment.pk, dispute_status=Enrollment.Dispute.NONE
        ).update(dispute_status=Enrollment.Dispute.OPEN)
        # Also when a first run opened it and died before flagging: its retry finishes the job.
        if opened or enrollment.dispute_status == Enrollment.Dispute.OPEN:
            amount = dispute.get("amount")
            flag_for_review(
                enrollment.pk,
                f"Dispute {dispute.get('id')} opened ({dispute.get('reason') or 'no reason'}, "
                f"{dispute.get('status')}) for "
                f"{format_money(int(amount or 0), enrollment.currency)}.",
            )
            emails.queue_dispute_alert(enrollment.pk)
    if apply_dispute(enrollment.pk) == "suspended" and opened:
        return "suspended"
    return "opened" if opened else "unchanged"  # unchanged: a replay, or closed already


def record_dispute_closed(dispute: dict) -> str:
    """Won (or an inquiry closed without a chargeback): access and commission come back.
    Lost: the money is gone, as after a full refund. Closed because we refunded: the
    ``charge.refunded`` event applies the refund policy."""
    enrollment = _enrollment_for_dispute(dispute)
    if enrollment is None:
        logger.warning("event=dispute.unknown_charge dispute=%s", dispute.get("id"))
        return "unknown_charge"
    status = dispute.get("status")
    if status in ("won", "warning_closed"):
        outcome = Enrollment.Dispute.WON
    elif status == "lost":
        outcome = Enrollment.Dispute.LOST
    else:
        return "unchanged"
    Enrollment.objects.filter(
        pk=enrollment.pk, dispute_status__in=[Enrollment.Dispute.NONE, Enrollment.Dispute.OPEN]
    ).update(dispute_status=outcome)
    return apply_dispute(enrollment.pk)


def apply_dispute(enrollment_id: int) -> str:
    """Bring access and the commission in line with the recorded dispute. Idempotent; also run
    after fulfilment, for a dispute that arrived before the payment's own events.

    A paid enrollment's access is suspended while its dispute is open (``enrollment_suspended``:
    ``lms_sync`` keeps the LMS progress and removes the enrolment) and given back once won
    (``enrollment_paid``: enrolled again with that progress); a lost dispute ends like a full
    refund. The signals are sent by whoever's conditional update moved ``dispute_status`` (and
    again by a retry: ``lms_sync`` schedules from the enrollment's state, so a repeat is
    harmless); a lost one is made good by the LMS sweep, which reads the same state.
    """
    enrollment = Enrollment.objects.get(pk=enrollment_id)
    Dispute = Enrollment.Dispute
    outcome = "unchanged"
    if enrollment.dispute_status == Dispute.OPEN:
        if enrollment.status == Status.PAID:
            send_on_commit(enrollment_suspended, Enrollment, enrollment_id=enrollment_id)
            outcome = "suspended"
    elif enrollment.dispute_status == Dispute.WON:
        if enrollment.status == Status.PAID:
            send_on_commit(enrollment_paid, Enrollment, enrollment_id=enrollment_id)
            outcome = "restored"
        else:
            outcome = "won"
    elif enrollment.dispute_status == Dispute.LOST:
        if enrollment.affiliate_id and enrollment.status in (Status.PAID, Status.REFUNDED):
            affiliate_services.reverse_commission(
                sale_id=enrollment_id,
                refunded_cents_total=enrollment.amount_due_cents,
                charged_cents=enrollment.amount_due_cents,
            )
        revoke_access(enrollment_id)
        outcome = "lost"
    if enrollment.affiliate_id:
        _hold_commission_while_disputed(enrollment_id)
    return outcome


def _hold_commission_while_disputed(enrollment_id: int) -> None:
    """The commission is on hold exactly while the dispute is open. Written, then checked
    against the status again: a concurrent closing that moved it meanwhile gets its hold
    rewritten here. The status only moves forward (at most two steps), so this settles."""
    for _ in range(3):
        dispute = Enrollment.objects.values_list("dispute_status", flat=True).get(pk=enrollment_id)
        affiliate_services.hold_commission(
            sale_id=enrollment_id, on_hold=dispute == Enrollment.Dispute.OPEN
        )
        if Enrollment.objects.filter(pk=enrollment_id, dispute_status=dispute).exists():
            return
