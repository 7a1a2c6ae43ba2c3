"""Reads for grants."""

import re

from django.db.models import QuerySet

from courses.models import Course
from courses.selectors import published_courses

from .models import Grant

_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,120}")


def courses_open_for_applications() -> QuerySet[Course]:
    """The courses the apply form offers: every published course, by title."""
    return published_courses().only("pk", "title").order_by("title", "pk")


def grant_by_coupon_code(canonical_code: str) -> Grant | None:
    """The grant carrying this coupon code (canonical form), with its course (1 query)."""
    return Grant.objects.select_related("course").filter(coupon_code=canonical_code).first()


def grant_with_course(grant_id: int) -> Grant | None:
    """One grant and its course, for e-mails and refusal messages (1 query)."""
    return Grant.objects.select_related("course").filter(pk=grant_id).first()


def open_course_by_slug(slug: str) -> Course | None:
    """The published course with this slug, to preselect it on the apply form (at most 1 query;
    none for text that cannot be a slug)."""
    if not _SLUG.fullmatch(slug):
        return None
    return courses_open_for_applications().filter(slug=slug).first()


def grants_of(email: str) -> QuerySet[Grant]:
    """Every grant application made with this e-mail, oldest first (the learner's data export)."""
    return Grant.objects.filter(email=email).select_related("course").order_by("created_at")
