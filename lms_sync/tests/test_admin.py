"""The staff admin: the sync job list and its retry action. (Open LMS incidents are ops's:
ops/tests/test_lms_incidents.py.)"""

import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory, UserFactory
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from enrollments.tests.factories import EnrollmentFactory
from lms_sync import services
from lms_sync.models import LmsSyncJob

from .conftest import paid_job, reload

pytestmark = pytest.mark.django_db

JOBS_URL = reverse("admin:lms_sync_lmssyncjob_changelist")


def test_staff_see_failed_jobs_with_a_masked_learner_and_the_error(
    client, fake, django_capture_on_commit_callbacks
):
    course = CourseFactory(title="Kubernetes Admin", frappe_course="k8s-admin")
    job = paid_job(course, email="ada.lovelace@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.run_job(job_id=job.pk)
    EnrollmentFactory(email="checkout-only@example.com")  # no sync job: not listed
    client.force_login(StaffFactory())

    response = client.get(JOBS_URL, {"status__exact": "failed"})

    assert response.status_code == 200
    assert "a***@example.com" in response.text
    assert "ada.lovelace@example.com" not in response.text
    assert "LMS Course &#x27;k8s-admin&#x27; does not exist" in response.text
    assert "checkout-only" not in response.text


def test_staff_retry_failed_jobs_now_from_the_admin(client, fake, course, redis_down):
    """The broker is down, so the retried job stays pending for the test to see (on MongoDB
    after-commit work runs at once; there is no test transaction)."""
    job = paid_job(
        course, lms_status=LmsSyncJob.Status.FAILED, lms_attempts=25, lms_next_attempt_at=None
    )
    synced = paid_job(course)
    services.run_job(job_id=synced.pk)
    client.force_login(StaffFactory())

    response = client.post(
        JOBS_URL,
        {"action": "retry_sync_now", "_selected_action": [job.pk, synced.pk]},
        follow=True,
    )

    assert "Retrying 1 LMS sync job(s) now." in response.text
    assert "1 job(s) skipped" in response.text
    job = reload(job)
    assert job.status == LmsSyncJob.Status.PENDING
    assert job.attempts == 0


def test_retry_action_starts_the_job_after_commit(
    client, fake, course, django_capture_on_commit_callbacks
):
    job = paid_job(course, lms_status=LmsSyncJob.Status.FAILED, lms_attempts=25)
    client.force_login(StaffFactory())

    with django_capture_on_commit_callbacks(execute=True):
        client.post(JOBS_URL, {"action": "retry_sync_now", "_selected_action": [job.pk]})

    job = reload(job)
    assert job.status == LmsSyncJob.Status.SYNCED
    assert job.attempts == 1


def test_learners_cannot_open_the_sync_admin(client):
    client.force_login(UserFactory())

    assert client.get(JOBS_URL).status_code == 302


def test_staff_see_the_progress_a_suspension_keeps_for_the_learner(client, course):
    enrol = paid_job(
        course,
        dispute_status=Enrollment.Dispute.OPEN,
        lms_status=LmsSyncJob.Status.SUPERSEDED,
        lms_progress=60.0,
        lms_current_lesson="lesson-3",
    )
    suspend = LmsSyncJob.objects.create(
        enrollment=enrol.enrollment,
        action=LmsSyncJob.Action.SUSPEND,
        status=LmsSyncJob.Status.SYNCED,
    )
    client.force_login(StaffFactory())

    kept = client.get(reverse("admin:lms_sync_lmssyncjob_change", args=[enrol.pk]))
    suspended = client.get(reverse("admin:lms_sync_lmssyncjob_change", args=[suspend.pk]))

    assert kept.status_code == suspended.status_code == 200
    assert "lesson-3" in kept.text
    assert "Open: access suspended" in kept.text
    assert "Suspend (keep progress)" in suspended.text
