from django.conf import settings

from .refund_policy import refund_policy


def site(request) -> dict:
    """Values every template may need: where learners open their courses, the refund policy,
    and whether this is the demo (its banner)."""
    return {
        "lms_url": settings.FRAPPE_PUBLIC_URL,
        "refund_policy": refund_policy(),
        "demo_mode": getattr(settings, "DEMO_MODE", False),
    }
