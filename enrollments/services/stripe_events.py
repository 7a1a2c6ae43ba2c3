"""The Stripe webhook inbox: store each verified event once, then apply it through its handler."""

import logging
from dataclasses import dataclass

from django.db.models import F
from django.utils import timezone

from common.transactions import insert_unless_present

from .. import stripe_gateway
from ..models import StripeEvent
from .fulfilment import expire_checkout_session, fail_checkout_session, fulfil_checkout_session
from .refunds import record_charge_refund, record_dispute, record_dispute_closed

logger = logging.getLogger(__name__)

_HANDLERS = {
    "checkout.session.completed": fulfil_checkout_session,
    "checkout.session.async_payment_succeeded": fulfil_checkout_session,
    "checkout.session.async_payment_failed": fail_checkout_session,
    "checkout.session.expired": expire_checkout_session,
    "charge.refunded": record_charge_refund,
    "charge.dispute.created": record_dispute,
    "charge.dispute.closed": record_dispute_closed,
}
DONE_OUTCOMES = (StripeEvent.Outcome.PROCESSED, StripeEvent.Outcome.IGNORED)
# Kept but never applied: the other mode than our key, or a field of the wrong type.
REFUSED = "refused"


def record_stripe_event(event: dict) -> tuple[StripeEvent, bool]:
    """Store a verified event once; the unique event id turns a repeat into ``created=False``.

    The insert is one statement (``insert_unless_present``) that commits alone in the webhook's
    autocommit, with no BEGIN, COMMIT or model ``save()`` of its own. The new row's primary key
    is not read back: the event is updated by its (unique) ``event_id``."""
    stripe_event = StripeEvent(event_id=event["id"], type=event["type"], payload=event)
    if insert_unless_present(stripe_event):
        return stripe_event, True
    return StripeEvent.objects.get(event_id=event["id"]), False


def process_stripe_event(stripe_event: StripeEvent) -> str:
    """Apply an event through its handler; every handler is idempotent, so reprocessing is safe.

    A handler error marks the event failed and re-raises, so the webhook answers 500 and
    Stripe retries (and staff can reprocess it from the admin). An event
    ``stripe_gateway.event_refusal`` refuses is stored as ignored with the reason.
    """
    refusal = stripe_gateway.event_refusal(stripe_event.payload)
    if refusal:
        logger.warning(
            "event=stripe_event.refused stripe_event=%s type=%s reason=%r",
            stripe_event.event_id,
            stripe_event.type,
            refusal,
        )
        StripeEvent.objects.filter(event_id=stripe_event.event_id).update(
            outcome=StripeEvent.Outcome.IGNORED,
            processed_at=timezone.now(),
            result=REFUSED,
            error=refusal,
        )
        return REFUSED
    handler = _HANDLERS.get(stripe_event.type)
    if handler is None:
        StripeEvent.objects.filter(event_id=stripe_event.event_id).update(
            outcome=StripeEvent.Outcome.IGNORED, processed_at=timezone.now()
        )
        return "ignored"
    # The attempt is counted with its outcome (one statement fewer per event); a process that
    # dies inside the handler leaves the event received, which the admin and the alerts show.
    try:
        result = handler(stripe_event.payload["data"]["object"])
    except Exception as error:
        logger.exception(
            "event=stripe_event.failed stripe_event=%s type=%s",
            stripe_event.event_id,
            stripe_event.type,
        )
        StripeEvent.objects.filter(event_id=stripe_event.event_id).update(
            outcome=StripeEvent.Outcome.FAILED,
            error=f"{type(error).__name__}: {error}"[:2000],
            attempts=F("attempts") + 1,
        )
        raise
    _record_processed(stripe_event, result)
    logger.info(
        "event=stripe_event.processed stripe_event=%s type=%s result=%s",
        stripe_event.event_id,
        stripe_event.type,
        result,
    )
    return result


def _record_processed(stripe_event: StripeEvent, result: str) -> None:
    """The outcome, with the attempt counted. Over the attempts read (no other attempt has
    ended since), the count is a literal and an empty error is left alone: a cheaper UPDATE
    than the F() expression; otherwise the counting one."""
    done = {
        "outcome": StripeEvent.Outcome.PROCESSED,
        "processed_at": timezone.now(),
        "result": result,
    }
    if stripe_event.error:
        done["error"] = ""
    event_id = stripe_event.event_id
    if not StripeEvent.objects.filter(event_id=event_id, attempts=stripe_event.attempts).update(
        attempts=stripe_event.attempts + 1, **done
    ):
        StripeEvent.objects.filter(event_id=event_id).update(
            **{**done, "error": ""}, attempts=F("attempts") + 1
        )


@dataclass(frozen=True)
class ReprocessResult:
    processed: int
    failed: int


def reprocess_stripe_events(*, event_ids: list[int]) -> ReprocessResult:
    """Staff's "reprocess": the selected events not yet processed go through their handler
    again, oldest first. Safe to repeat: every handler is idempotent."""
    processed = failed = 0
    events = StripeEvent.objects.filter(pk__in=event_ids).exclude(outcome__in=DONE_OUTCOMES)
    for stripe_event in events.order_by("received_at", "pk"):
        try:
            process_stripe_event(stripe_event)
        except Exception:
            failed += 1  # logged, and the event marked failed, by process_stripe_event
        else:
            processed += 1
    return ReprocessResult(processed=processed, failed=failed)
