"""Applying for a grant."""

import logging

from django.db import IntegrityError

from accounts.models import normalize_email
from common.transactions import atomic
from courses.models import Course

from ..errors import DuplicateApplication
from ..models import Grant
from . import emails

logger = logging.getLogger(__name__)


def apply_for_grant(
    *,
    name: str,
    email: str,
    course: Course,
    statement: str,
    organisation: str = "",
    country: str = "",
) -> Grant:
    """Record a pending application and e-mail the applicant and staff (queued with it).

    Raises ``DuplicateApplication`` when this e-mail already has a pending application for the
    course; nothing is created then.
    """
    grant = Grant(
        name=name.strip(),
        email=normalize_email(email),
        course=course,
        statement=statement.strip(),
        organisation=organisation.strip(),
        country=country.strip(),
    )
    try:
        with atomic():
            grant.save(force_insert=True)
            emails.queue_application_emails(grant)
    except IntegrityError:
        # A new pending grant has no coupon fields, and foreign keys are checked at commit, so
        # the one constraint this insert can break is "one pending per e-mail and course".
        raise DuplicateApplication(
            "You have already applied for a grant for this course and we are still reviewing "
            "that application. We will e-mail you our decision; there is no need to apply again."
        )
    logger.info("event=grant.applied grant_id=%s course_id=%s", grant.pk, course.pk)
    return grant
