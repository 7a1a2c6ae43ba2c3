from django.conf import settings


def site(request) -> dict:
    """Values every template may need: where learners open their courses."""
    return {"lms_url": settings.FRAPPE_PUBLIC_URL}
