"""Reads for grants."""

import re

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import normalize_email
from accounts.selectors import verified_email_of
from courses.models import Course
from courses.selectors import published_courses

from .coupons import normalize_coupon_code, normalize_legacy_coupon_code
from .errors import refused
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


def find_coupon_for_checkout(
    *, code: str, course: Course, email: str, user, enrollment_id: int | None = None
) -> Grant:
    """The approved grant whose coupon this checkout may use, or ``CouponRefused``.

    Accepted only when: the learner is logged in with a verified e-mail; the code exists; its
    grant's e-mail equals both the checkout e-mail and that verified e-mail (case-insensitively);
    it is for ``course``; it is not redeemed; it has not expired by ``coupon_expires_at`` (whether
    or not ``expire_coupons`` has run); and no other unexpired checkout holds it. A hold by
    ``enrollment_id`` (this checkout's own pending enrollment, if it has one) does not count.

    Ownership is checked before anything about the coupon is revealed. Two queries.
    """
    if not user.is_authenticated:
        raise refused("login_required")
    verified_email = verified_email_of(user)
    if verified_email is None:
        raise refused("unverified")
    # An old MaalEdu code (kept by the import) is looked up as that system stored it.
    canonical = normalize_coupon_code(code) or normalize_legacy_coupon_code(code)
    grant = grant_by_coupon_code(canonical) if canonical else None
    if grant is None:
        raise refused("not_found")
    if grant.email != normalize_email(email) or grant.email != normalize_email(verified_email):
        raise refused("email_mismatch")
    if grant.course_id != course.pk:
        raise refused("wrong_course", grant)
    if grant.coupon_state == Grant.CouponState.REDEEMED:
        raise refused("redeemed", grant)
    now = timezone.now()
    if grant.status == Grant.Status.EXPIRED or grant.coupon_expires_at <= now:
        raise refused("expired", grant)
    held_by_another = (
        grant.coupon_state == Grant.CouponState.RESERVED
        and (enrollment_id is None or grant.holder_enrollment_id != enrollment_id)
        and (grant.reserved_until is None or grant.reserved_until > now)
    )
    if held_by_another:
        raise refused("held", grant)
    return grant
