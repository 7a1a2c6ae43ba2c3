from django.conf import settings


def site(request) -> dict:
    """Values every template may need: where learners open their courses, and whether Stripe
    Tax works inside our prices (``includes/tax_note.html``)."""
    return {"lms_url": settings.FRAPPE_PUBLIC_URL, "stripe_tax": settings.STRIPE_AUTOMATIC_TAX}
