"""Enrollments with an LMS sync job, for the tests of apps that read LMS state (ops, legacy)."""

from typing import Any

from enrollments.models import Enrollment
from enrollments.tests.factories import EnrollmentFactory
from lms_sync import selectors
from lms_sync.models import LmsSyncJob

# The old Enrollment.lms_* names, as LmsSyncJob fields.
JOB_FIELDS = {
    "lms_status": "status",
    "lms_action": "action",
    "lms_attempts": "attempts",
    "lms_next_attempt_at": "next_attempt_at",
    "lms_lease_token": "lease_token",
    "lms_lease_until": "lease_until",
    "lms_last_error": "last_error",
    "lms_enrollment_name": "lms_enrollment_name",
    "lms_synced_at": "synced_at",
    "lms_progress": "progress",
    "lms_current_lesson": "current_lesson",
    "lms_progress_at": "progress_at",
    "lms_updated_at": "updated_at",
}


def split_job_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Remove the ``lms_*`` keywords from ``fields``; return them as job fields."""
    return {JOB_FIELDS[key]: fields.pop(key) for key in list(fields) if key in JOB_FIELDS}


def enrollment_with_job(**fields: Any) -> Enrollment:
    """An enrollment (EnrollmentFactory keywords) and its LMS job (``lms_*`` keywords, e.g.
    ``lms_status="failed"``), as lms_sync would have left them. A suspend or unenrol job also
    gets the superseded enrol job that keeps the progress, as lms_sync keeps it."""
    job_fields = split_job_fields(fields)
    enrollment = EnrollmentFactory(**fields)
    add_job(enrollment, **job_fields)
    return enrollment


def add_job(enrollment: Enrollment, **job_fields: Any) -> LmsSyncJob:
    action = job_fields.setdefault("action", LmsSyncJob.Action.ENROL)
    if action != LmsSyncJob.Action.ENROL:
        kept = {k: job_fields.pop(k) for k in ("progress", "current_lesson") if k in job_fields}
        LmsSyncJob.objects.create(
            enrollment=enrollment, status=LmsSyncJob.Status.SUPERSEDED, **kept
        )
    return LmsSyncJob.objects.create(enrollment=enrollment, **job_fields)


def job_of(enrollment: Enrollment) -> LmsSyncJob | None:
    """The enrollment's current LMS job."""
    return selectors.current_job(enrollment.pk)


def enrol_job_of(enrollment: Enrollment) -> LmsSyncJob | None:
    return LmsSyncJob.objects.filter(enrollment=enrollment, action=LmsSyncJob.Action.ENROL).first()
