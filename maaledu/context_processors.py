from django.conf import settings

from common.refund_policy import refund_policy


def site(request) -> dict:
    """Values every template may need: where learners open their courses, the refund policy,
    whether this is the demo (its banner), and whether Stripe Tax works inside our prices
    (``includes/tax_note.html``)."""
    return {
        "lms_url": settings.FRAPPE_PUBLIC_URL,
        "refund_policy": refund_policy(),
        "demo_mode": getattr(settings, "DEMO_MODE", False),
        "stripe_tax": settings.STRIPE_AUTOMATIC_TAX,
    }
