"""What starts jobs: the enrollment signals, the minute sweeper; and the alert e-mails' delivery."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from enrollments import services as enrollment_services
from enrollments.models import Enrollment
from enrollments.tests.factories import EnrollmentFactory
from lms_sync import services, tasks
from lms_sync.models import LmsAlert

from .conftest import COURSE, paid_job, reload

pytestmark = pytest.mark.django_db

LmsStatus = Enrollment.LmsStatus


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

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert enrollment_services.fulfil_checkout_session(paid_session(enrollment)) == (
            enrollment_services.FULFILLED
        )
        assert fake.requests == []  # nothing reaches Frappe before the commit

    assert callbacks
    enrollment = reload(enrollment)
    assert enrollment.lms_status == LmsStatus.SYNCED
    [lms_enrollment] = fake.enrollments.values()
    assert (lms_enrollment["member"], lms_enrollment["course"]) == ("ada@example.com", COURSE)


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

    enrollment = reload(enrollment)
    assert (enrollment.lms_status, enrollment.lms_action) == (
        LmsStatus.SYNCED,
        Enrollment.LmsAction.UNENROL,
    )
    assert fake.enrollments == {}


def test_sweeper_starts_due_jobs_and_jobs_whose_worker_died_and_nothing_else(fake, course):
    now = timezone.now()
    lease = timedelta(seconds=django_settings.LMS_SYNC_LEASE_SECONDS)
    due = paid_job(course, lms_next_attempt_at=now - timedelta(minutes=3))
    claimed_at = now - lease - timedelta(seconds=1)
    dead_worker = paid_job(course, lms_next_attempt_at=claimed_at)
    assert services.claim_job(enrollment_id=dead_worker.pk, now=claimed_at)
    running = paid_job(course, lms_next_attempt_at=now)
    assert services.claim_job(enrollment_id=running.pk, now=now)
    backing_off = paid_job(course, lms_next_attempt_at=now + timedelta(minutes=3))
    failed = paid_job(course, lms_status=LmsStatus.FAILED, lms_next_attempt_at=None)
    not_required = EnrollmentFactory(course=course)

    assert tasks.sweep_due_jobs() == 2

    assert reload(due).lms_status == LmsStatus.SYNCED
    assert reload(dead_worker).lms_status == LmsStatus.SYNCED
    assert reload(running).lms_status == LmsStatus.IN_PROGRESS
    assert reload(backing_off).lms_status == LmsStatus.PENDING
    assert reload(failed).lms_status == LmsStatus.FAILED
    assert reload(not_required).lms_status == LmsStatus.NOT_REQUIRED
    assert len(fake.enrollments) == 2


def test_sweeper_starts_a_bounded_number_of_jobs_per_run_oldest_first(fake, course, monkeypatch):
    monkeypatch.setattr(tasks, "SWEEP_BATCH", 2)
    now = timezone.now()
    jobs = [paid_job(course, lms_next_attempt_at=now - timedelta(minutes=m)) for m in (1, 3, 2)]

    assert tasks.sweep_due_jobs() == 2

    assert [reload(job).lms_status for job in jobs] == [
        LmsStatus.PENDING,
        LmsStatus.SYNCED,
        LmsStatus.SYNCED,
    ]
    assert tasks.sweep_due_jobs() == 1


def test_an_alert_whose_email_task_was_lost_is_sent_once_by_the_resend_sweep(mailoutbox):
    opened = timezone.now() - timedelta(minutes=6)
    lost = LmsAlert.objects.create(
        kind=LmsAlert.Kind.CONFIG, key="site", detail="HTTP 401", opened_at=opened
    )
    LmsAlert.objects.create(
        kind=LmsAlert.Kind.FAILED, key="site", opened_at=opened, resolved_at=timezone.now()
    )
    LmsAlert.objects.create(kind=LmsAlert.Kind.MAPPING, key="course-1")  # its task may be queued

    assert tasks.resend_unsent_alerts() == 1
    assert tasks.resend_unsent_alerts() == 0

    [email] = mailoutbox
    assert "LMS credentials or site rejected" in email.subject
    assert email.alternatives[0][1] == "text/html"
    assert "/admin/lms_sync/lmssyncjob/" in email.body
    assert reload_alert(lost).notified_at is not None


def test_an_alert_email_that_fails_to_send_is_released_for_the_next_try(settings, mailoutbox):
    alert = LmsAlert.objects.create(kind=LmsAlert.Kind.CONFIG, key="site")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2

    with pytest.raises(OSError):
        services.notify_alert(alert_id=alert.pk)
    assert reload_alert(alert).notified_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.notify_alert(alert_id=alert.pk) is True
    assert services.notify_alert(alert_id=alert.pk) is False
    assert len(mailoutbox) == 1


def reload_alert(alert: LmsAlert) -> LmsAlert:
    return LmsAlert.objects.get(pk=alert.pk)
