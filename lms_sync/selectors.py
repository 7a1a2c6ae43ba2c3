"""Reads for LMS sync: which jobs may run now, whose progress to read, open incidents."""

from datetime import datetime

from django.db.models import F, Q, QuerySet

from courses.models import Course
from enrollments.models import Enrollment

from .models import LmsAlert

LmsStatus = Enrollment.LmsStatus


def claimable(*, now: datetime, waiting_config: bool = True) -> Q:
    """Jobs a worker may take at ``now``: due ones, and ones whose worker's lease ran out.

    A due job still under a lease (refunded while its enrol call was running) waits for that
    call to finish or its lease to expire, so one enrollment never has two calls in flight.
    """
    lease_free = Q(lms_lease_until__isnull=True) | Q(lms_lease_until__lt=now)
    statuses = [LmsStatus.PENDING, *([LmsStatus.WAITING_CONFIG] if waiting_config else [])]
    due = Q(lms_status__in=statuses, lms_next_attempt_at__lte=now)
    return lease_free & (due | Q(lms_status=LmsStatus.IN_PROGRESS))


def due_job_ids(*, now: datetime, limit: int, waiting_config: bool) -> list[int]:
    """Ids of claimable jobs, longest overdue first (served by ``enrollment_lms_due_idx``)."""
    return list(
        Enrollment.objects.filter(claimable(now=now, waiting_config=waiting_config))
        .order_by("lms_next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def progress_batch(*, limit: int) -> list[Enrollment]:
    """Synced enrolments of paid enrollments, least recently read first."""
    return list(
        Enrollment.objects.filter(
            status=Enrollment.Status.PAID,
            lms_action=Enrollment.LmsAction.ENROL,
            lms_status=LmsStatus.SYNCED,
        )
        .exclude(course__frappe_course="")
        .select_related("course")
        .only("email", "lms_progress", "lms_progress_at", "course__frappe_course")
        .order_by(F("lms_progress_at").asc(nulls_first=True), "pk")[:limit]
    )


def open_alerts() -> QuerySet[LmsAlert]:
    return LmsAlert.objects.filter(resolved_at__isnull=True).order_by("opened_at")


def unsent_alert_ids(*, opened_before: datetime) -> list[int]:
    return list(
        open_alerts()
        .filter(notified_at__isnull=True, opened_at__lt=opened_before)
        .values_list("pk", flat=True)
    )


def published_courses() -> QuerySet[Course]:
    return Course.objects.filter(is_published=True).order_by("title")


def mapped_courses() -> list[tuple[int, str]]:
    """(course id, LMS course name) of every published course mapped to an LMS course."""
    return list(
        Course.objects.filter(is_published=True)
        .exclude(frappe_course="")
        .order_by("pk")
        .values_list("pk", "frappe_course")
    )
