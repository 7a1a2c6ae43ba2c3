"""Writes for courses outside the admin: today, courses brought over from the old MaalEdu."""

from django.db import IntegrityError, transaction

from .models import Course


def import_unpublished_course(
    *, slug: str, title: str, description: str, price_cents: int, currency: str, level: str
) -> tuple[Course, bool]:
    """The course with ``slug``, created unpublished if missing (staff publish it once its
    content and LMS mapping are checked); and whether this call created it."""
    existing = Course.objects.filter(slug=slug).first()
    if existing is not None:
        return existing, False
    if level not in Course.Level.values:
        level = Course.Level.BEGINNER
    try:
        with transaction.atomic():
            course = Course.objects.create(
                slug=slug,
                title=title[:200],
                description=description,
                price_cents=price_cents,
                currency=currency,
                level=level,
                is_published=False,
            )
    except IntegrityError:
        return Course.objects.get(slug=slug), False
    return course, True
