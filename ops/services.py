"""The ops page's buttons. Each delegates to the owning app's service, which is idempotent, so a
double click or two staff pressing at once changes nothing twice."""

import logging

from enrollments import services as enrollment_services
from lms_sync import services as lms_services

from .selectors import LIST_LIMIT

logger = logging.getLogger(__name__)


def retry_lms_syncs(*, job_ids: list[int], staff_id: int) -> int:
    """Make failed, waiting or backing-off LMS jobs due now with a fresh retry budget; returns
    how many moved (jobs already synced or running are left alone)."""
    retried = lms_services.retry_now(job_ids=job_ids[:LIST_LIMIT])
    logger.info("event=ops.lms_retry count=%s staff_id=%s", retried, staff_id)
    return retried


def reprocess_stripe_events(
    *, event_ids: list[int], staff_id: int
) -> enrollment_services.ReprocessResult:
    """Run the selected events not yet processed through their handler again."""
    result = enrollment_services.reprocess_stripe_events(event_ids=event_ids[:LIST_LIMIT])
    logger.info(
        "event=ops.stripe_reprocess processed=%s failed=%s staff_id=%s",
        result.processed,
        result.failed,
        staff_id,
    )
    return result
