"""Celery tasks of enrollments: each takes an id, re-reads its row in one service and is safe to
run twice. The e-mails about enrollments are not tasks here: they go through the outbox
(``enrollments.services.emails`` queues them, ``common.outbox`` sends each once)."""

import logging

from celery import shared_task

from . import services, stripe_gateway
from .services import receipts

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def after_payment(enrollment_id: int) -> None:
    """The one message a payment publishes (``services.fulfilment.announce_paid_on_commit``)."""
    services.announce_paid(enrollment_id)


@shared_task
def expire_stale_checkouts() -> int:
    return services.expire_stale_checkouts()


@shared_task(
    autoretry_for=(stripe_gateway.GatewayError,),
    retry_backoff=60,
    max_retries=6,
)
def fetch_invoice_links(enrollment_id: int) -> bool:
    """Keep the receipt links of the invoice Stripe created for this payment."""
    try:
        return receipts.store_invoice_links(enrollment_id)
    except stripe_gateway.PaymentsNotConfigured:
        return False


@shared_task
def sweep_missing_invoice_links() -> int:
    """Re-enqueue receipts whose fetch was lost or gave up (the row is the truth)."""
    ids = receipts.enrollments_missing_invoice_links()
    for enrollment_id in ids:
        fetch_invoice_links.delay(enrollment_id)
    return len(ids)
