"""The ops page's buttons. Each delegates to the owning app's service, which is idempotent, so a
double click or two staff pressing at once changes nothing twice."""

import logging
from dataclasses import dataclass

from enrollments import services as enrollment_services
from enrollments.models import StripeEvent
from lms_sync import services as lms_services

from .selectors import LIST_LIMIT

logger = logging.getLogger(__name__)


def retry_lms_syncs(*, enrollment_ids: list[int], staff_id: int) -> int:
    """Make failed, waiting or backing-off LMS jobs due now with a fresh retry budget; returns
    how many moved (jobs already synced or running are left alone)."""
    retried = lms_services.retry_now(enrollment_ids=enrollment_ids[:LIST_LIMIT])
    logger.info("event=ops.lms_retry count=%s staff_id=%s", retried, staff_id)
    return retried


@dataclass(frozen=True)
class ReprocessResult:
    processed: int
    failed: int


def reprocess_stripe_events(*, event_ids: list[int], staff_id: int) -> ReprocessResult:
    """Run the selected events not yet processed through their handler again."""
    processed = failed = 0
    events = StripeEvent.objects.filter(pk__in=event_ids[:LIST_LIMIT]).exclude(
        outcome__in=enrollment_services.DONE_OUTCOMES
    )
    for stripe_event in events.order_by("received_at", "pk"):
        try:
            enrollment_services.process_stripe_event(stripe_event)
        except Exception:
            failed += 1  # process_stripe_event logged it and marked the event failed
        else:
            processed += 1
    logger.info(
        "event=ops.stripe_reprocess processed=%s failed=%s staff_id=%s",
        processed,
        failed,
        staff_id,
    )
    return ReprocessResult(processed=processed, failed=failed)
