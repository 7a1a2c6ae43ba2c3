"""What creates and starts jobs: the enrollment signals, the minute sweeper. (A job a lost signal
never created: test_lost_signal.py.)"""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from common.testing.backends import skip_on_mongodb
from enrollments import services as enrollment_services
from enrollments.models import Enrollment
from enrollments.tests.factories import EnrollmentFactory
from lms_sync import services, tasks
from lms_sync.models import LmsSyncJob

from .conftest import COURSE, job_of, paid_job, reload

pytestmark = pytest.mark.django_db

LmsStatus = LmsSyncJob.Status


def paid_session(enrollment: Enrollment) -> dict:
    return {
        "id": enrollment.stripe_session_id,
        "object": "checkout.session",
        "status": "complete",
        "payment_status": "paid",
        "amount_total": enrollment.amount_due_cents,
        "currency": enrollment.currency,
        "payment_intent": f"pi_{enrollment.pk}",
    }


def test_payment_starts_the_enrol_job_right_after_commit(
    fake, course, django_capture_on_commit_callbacks
):
    enrollment = EnrollmentFactory(course=course, email="ada@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        assert enrollment_services.fulfil_checkout_session(paid_session(enrollment)) == (
            enrollment_services.FULFILLED
        )

    job = job_of(enrollment)
    assert (job.action, job.status) == (LmsSyncJob.Action.ENROL, LmsStatus.SYNCED)
    [lms_enrollment] = fake.enrollments.values()
    assert (lms_enrollment["member"], lms_enrollment["course"]) == ("ada@example.com", COURSE)


@skip_on_mongodb(
    "no transactions on a standalone server: after-commit work runs at once",
    proven_by="lms_sync/tests/test_hooks_and_sweeps.py"
    "::test_payment_starts_the_enrol_job_right_after_commit",
)
def test_nothing_reaches_frappe_before_the_payment_commits(
    fake, course, django_capture_on_commit_callbacks
):
    enrollment = EnrollmentFactory(course=course, email="ada@example.com")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enrollment_services.fulfil_checkout_session(paid_session(enrollment))
        assert fake.requests == []

    assert callbacks
    assert fake.requests


def test_full_refund_starts_the_unenrol_job_right_after_commit(
    fake, course, django_capture_on_commit_callbacks
):
    enrollment = EnrollmentFactory(course=course)
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_services.fulfil_checkout_session(paid_session(enrollment))
    assert len(fake.enrollments) == 1

    with django_capture_on_commit_callbacks(execute=True):
        enrollment_services.apply_refund(
            enrollment_id=enrollment.pk, refunded_cents=enrollment.amount_due_cents
        )

    job = job_of(enrollment)
    assert (job.status, job.action) == (LmsStatus.SYNCED, LmsSyncJob.Action.UNENROL)
    assert fake.enrollments == {}


def test_sweeper_starts_due_jobs_and_jobs_whose_worker_died_and_nothing_else(fake, course):
    now = timezone.now()
    lease = timedelta(seconds=django_settings.LMS_SYNC_LEASE_SECONDS)
    due = paid_job(course, lms_next_attempt_at=now - timedelta(minutes=3))
    claimed_at = now - lease - timedelta(seconds=1)
    dead_worker = paid_job(course, lms_next_attempt_at=claimed_at)
    assert services.claim_job(job_id=dead_worker.pk, now=claimed_at)
    running = paid_job(course, lms_next_attempt_at=now)
    assert services.claim_job(job_id=running.pk, now=now)
    backing_off = paid_job(course, lms_next_attempt_at=now + timedelta(minutes=3))
    failed = paid_job(course, lms_status=LmsStatus.FAILED, lms_next_attempt_at=None)
    not_required = EnrollmentFactory(course=course)  # a checkout: no job, none created

    assert tasks.sweep_due_jobs() == 2

    assert reload(due).status == LmsStatus.SYNCED
    assert reload(dead_worker).status == LmsStatus.SYNCED
    assert reload(running).status == LmsStatus.IN_PROGRESS
    assert reload(backing_off).status == LmsStatus.PENDING
    assert reload(failed).status == LmsStatus.FAILED
    assert job_of(not_required) is None
    assert len(fake.enrollments) == 2


def test_sweeper_starts_a_bounded_number_of_jobs_per_run_oldest_first(fake, course, monkeypatch):
    monkeypatch.setattr(tasks, "SWEEP_BATCH", 2)
    now = timezone.now()
    jobs = [paid_job(course, lms_next_attempt_at=now - timedelta(minutes=m)) for m in (1, 3, 2)]

    assert tasks.sweep_due_jobs() == 2

    assert [reload(job).status for job in jobs] == [
        LmsStatus.PENDING,
        LmsStatus.SYNCED,
        LmsStatus.SYNCED,
    ]
    assert tasks.sweep_due_jobs() == 1


def test_the_learners_data_export_includes_the_lms_progress_lms_sync_keeps(course):
    from accounts.tests.factories import UserFactory
    from courses.tests.factories import CourseFactory
    from enrollments.services.privacy import export_account_data

    user = UserFactory(email="ada@example.com")
    job = paid_job(course, email="ada@example.com", user=user, lms_progress=42.0)
    not_started = paid_job(CourseFactory(), email="ada@example.com", user=user)
    no_job_yet = EnrollmentFactory(
        email="ada@example.com", user=user, status=Enrollment.Status.PAID
    )

    orders = {o["order"]: o for o in export_account_data(user)["orders"]}

    # The export names each order by its key as text (JSON on every backend).
    assert orders[str(job.enrollment_id)]["lms_progress_percent"] == 42.0
    assert orders[str(not_started.enrollment_id)]["lms_progress_percent"] is None
    assert orders[str(no_job_yet.pk)]["lms_progress_percent"] is None
