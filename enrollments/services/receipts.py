"""Receipts: the invoice Stripe Checkout creates for each payment (``invoice_creation``).

The paid session carries only the invoice id (kept by fulfilment); the hosted page and PDF
links are read from the invoice afterwards by a task, and a periodic sweep re-enqueues any
enrollment still missing them, so a lost message or an unreachable Stripe only delays them.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from .. import stripe_gateway
from ..models import Enrollment

logger = logging.getLogger(__name__)

# Only web links are shown to the learner as receipts (never e.g. a javascript: URL).
_WEB = ("https://", "http://")


def _web_link(value) -> str:
    return value if isinstance(value, str) and value.startswith(_WEB) and len(value) <= 2000 else ""


def store_invoice_links(enrollment_id: int) -> bool:
    """Fetch the enrollment's invoice and keep its links; True when they were stored now.

    Raises ``stripe_gateway.GatewayError`` when Stripe cannot answer (the task retries).
    """
    invoice_id = (
        Enrollment.objects.filter(pk=enrollment_id, invoice_url="")
        .exclude(stripe_invoice_id="")
        .values_list("stripe_invoice_id", flat=True)
        .first()
    )
    if not invoice_id:
        return False
    invoice = stripe_gateway.retrieve_invoice(invoice_id)
    url = _web_link(invoice.get("hosted_invoice_url"))
    if not url:
        return False  # not finalized yet: the sweep asks again later
    stored = Enrollment.objects.filter(
        pk=enrollment_id, stripe_invoice_id=invoice_id, invoice_url=""
    ).update(invoice_url=url, invoice_pdf_url=_web_link(invoice.get("invoice_pdf")))
    if stored:
        logger.info("event=receipt.stored enrollment_id=%s", enrollment_id)
    return bool(stored)


def enrollments_missing_invoice_links(*, limit: int = 200) -> list[int]:
    """Paid (or since refunded) enrollments whose invoice links were never stored."""
    cutoff = timezone.now() - timedelta(minutes=2)
    return list(
        Enrollment.objects.filter(
            status__in=[Enrollment.Status.PAID, Enrollment.Status.REFUNDED],
            invoice_url="",
            paid_at__lt=cutoff,
        )
        .exclude(stripe_invoice_id="")
        .order_by("paid_at")
        .values_list("pk", flat=True)[:limit]
    )
