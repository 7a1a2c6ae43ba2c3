"""The staff admin: the sync job list, its retry action, and open alerts."""

import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory, UserFactory
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from enrollments.tests.factories import EnrollmentFactory
from lms_sync import services
from lms_sync.models import LmsAlert

from .conftest import paid_job, reload

pytestmark = pytest.mark.django_db

JOBS_URL = reverse("admin:lms_sync_lmssyncjob_changelist")


def test_staff_see_failed_jobs_with_a_masked_learner_the_error_and_open_alerts(
    client, fake, django_capture_on_commit_callbacks
):
    course = CourseFactory(title="Kubernetes Admin", frappe_course="k8s-admin")
    job = paid_job(course, email="ada.lovelace@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.run_job(enrollment_id=job.pk)
    EnrollmentFactory(email="checkout-only@example.com")  # no sync job: not listed
    client.force_login(StaffFactory())

    response = client.get(JOBS_URL, {"lms_status__exact": "failed"})

    assert response.status_code == 200
    assert "a***@example.com" in response.text
    assert "ada.lovelace@example.com" not in response.text
    assert "LMS Course &#x27;k8s-admin&#x27; does not exist" in response.text
    assert "Open LMS alert since" in response.text
    assert "checkout-only" not in response.text


def test_staff_retry_failed_jobs_now_from_the_admin(client, fake, course):
    job = paid_job(
        course, lms_status=Enrollment.LmsStatus.FAILED, lms_attempts=25, lms_next_attempt_at=None
    )
    synced = paid_job(course)
    services.run_job(enrollment_id=synced.pk)
    client.force_login(StaffFactory())

    response = client.post(
        JOBS_URL,
        {"action": "retry_sync_now", "_selected_action": [job.pk, synced.pk]},
        follow=True,
    )

    assert "Retrying 1 LMS sync job(s) now." in response.text
    assert "1 job(s) skipped" in response.text
    job = reload(job)
    assert job.lms_status == Enrollment.LmsStatus.PENDING
    assert job.lms_attempts == 0


def test_retry_action_starts_the_job_after_commit(
    client, fake, course, django_capture_on_commit_callbacks
):
    job = paid_job(course, lms_status=Enrollment.LmsStatus.FAILED, lms_attempts=25)
    client.force_login(StaffFactory())

    with django_capture_on_commit_callbacks(execute=True):
        client.post(JOBS_URL, {"action": "retry_sync_now", "_selected_action": [job.pk]})

    job = reload(job)
    assert job.lms_status == Enrollment.LmsStatus.SYNCED
    assert job.lms_attempts == 1


def test_learners_cannot_open_the_sync_admin(client):
    client.force_login(UserFactory())

    assert client.get(JOBS_URL).status_code == 302
    assert client.get(reverse("admin:lms_sync_lmsalert_changelist")).status_code == 302


def test_staff_list_open_alerts(client):
    LmsAlert.objects.create(kind=LmsAlert.Kind.CONFIG, key="site", detail="HTTP 401 AuthError")
    client.force_login(StaffFactory())

    response = client.get(reverse("admin:lms_sync_lmsalert_changelist"), {"state": "open"})

    assert response.status_code == 200
    assert "HTTP 401 AuthError" in response.text


def test_staff_see_the_progress_a_suspended_job_keeps_for_the_learner(client, course):
    job = paid_job(
        course,
        dispute_status=Enrollment.Dispute.OPEN,
        lms_action=Enrollment.LmsAction.SUSPEND,
        lms_status=Enrollment.LmsStatus.SYNCED,
        lms_progress=60.0,
        lms_current_lesson="lesson-3",
    )
    client.force_login(StaffFactory())

    response = client.get(reverse("admin:lms_sync_lmssyncjob_change", args=[job.pk]))

    assert response.status_code == 200
    assert "Suspend (keep progress)" in response.text
    assert "lesson-3" in response.text
    assert "Open: access suspended" in response.text
