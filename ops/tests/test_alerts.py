from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import IntegrityError, connection
from django.utils import timezone

from common import outbox
from common.testing.backends import on_mongodb_only
from common.testing.concurrency import race
from common.testing.mail import REFUSING_BACKEND, WORKING_BACKEND
from common.transactions import atomic
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment, StripeEvent
from enrollments.tests.factories import EnrollmentFactory
from lms_sync import services as lms_services
from lms_sync.models import LmsSyncJob
from lms_sync.tests.factories import enrollment_with_job, job_of
from maaledu.celery import app as celery_app
from ops import alerts, tasks
from ops.models import Incident

pytestmark = pytest.mark.django_db

Kind = Incident.Kind
LmsStatus = LmsSyncJob.Status
# Every kind the periodic check owns; reconciliation drift is opened by reconcile runs instead.
# (The LMS incidents lms_sync reports are opened by its signal: ops/tests/test_lms_incidents.py.)
QUIET = dict.fromkeys(alerts.CHECKS, alerts.QUIET)


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.ALERT_LMS_FAILED_PER_HOUR = 3
    settings.ALERT_LMS_PENDING_MINUTES = 30
    settings.CHECKOUT_SESSION_MINUTES = 60


@pytest.fixture
def run_checks(django_capture_on_commit_callbacks):
    """One beat run of the check task, with its after-commit e-mails sent (tasks run eagerly)."""

    def run(now=None):
        with django_capture_on_commit_callbacks(execute=True):
            return alerts.check_alerts(now=now) if now else tasks.check_alerts.delay().get()

    return run


def failed_lms_jobs(count: int, *, failed_at=None) -> list[Enrollment]:
    jobs = [
        enrollment_with_job(
            email=f"learner{index}@example.com",
            status=Enrollment.Status.PAID,
            paid_at=timezone.now() - timedelta(hours=3),
            lms_status=LmsStatus.FAILED,
            lms_last_error=f"Frappe said: user learner{index}@example.com is disabled",
        )
        for index in range(count)
    ]
    if failed_at is not None:
        LmsSyncJob.objects.filter(enrollment__in=jobs).update(updated_at=failed_at)
    return jobs


def subjects() -> list[str]:
    return [message.subject for message in mail.outbox]


def test_a_healthy_site_opens_no_incident_and_sends_nothing(run_checks):
    enrollment_with_job(status=Enrollment.Status.PAID, lms_status=LmsStatus.SYNCED)
    EnrollmentFactory()  # a checkout started a moment ago
    StripeEvent.objects.create(
        event_id="evt_ok", type="checkout.session.completed", payload={}, outcome="processed"
    )

    assert run_checks() == QUIET
    assert not Incident.objects.exists()
    assert mail.outbox == []


def test_the_beat_schedule_runs_the_alert_task_every_five_minutes():
    entry = django_settings.CELERY_BEAT_SCHEDULE["ops-check-alerts"]

    assert entry["schedule"] == 5 * 60
    assert entry["task"] in celery_app.tasks


# --- LMS failures per hour ---------------------------------------------------------------------


def test_lms_failures_at_the_threshold_alert_once_then_stay_quiet(run_checks):
    failed_lms_jobs(3)

    first = run_checks()
    second = run_checks()

    assert first[Kind.LMS_FAILURES] == alerts.OPENED
    assert second[Kind.LMS_FAILURES] == alerts.STILL_OPEN
    assert subjects() == ["[MaalEdu alert] LMS syncs failing"]
    assert mail.outbox[0].to == ["staff@maaledu.test"]
    body = mail.outbox[0].body
    assert "3 LMS sync job(s) failed in the last hour (threshold 3)" in body
    assert "l***@example.com is disabled" in body
    assert "learner0@example.com" not in body
    assert "/admin/ops/" in body
    incident = Incident.objects.get()
    assert incident.resolved_at is None
    assert outbox.sent_at(alerts.email_key(incident.pk, alerts.OPENED_EMAIL)) is not None


def test_lms_failures_below_the_threshold_or_older_than_an_hour_stay_quiet(run_checks):
    failed_lms_jobs(2)
    failed_lms_jobs(5, failed_at=timezone.now() - timedelta(minutes=61))

    assert run_checks()[Kind.LMS_FAILURES] == alerts.QUIET
    assert mail.outbox == []


def test_lms_failures_resolve_when_the_hour_passes_and_a_new_burst_is_a_new_incident(run_checks):
    jobs = failed_lms_jobs(3)
    run_checks()
    LmsSyncJob.objects.filter(enrollment__in=jobs).update(
        updated_at=timezone.now() - timedelta(hours=2)
    )

    resolved = run_checks()
    failed_lms_jobs(4)
    reopened = run_checks()

    assert resolved[Kind.LMS_FAILURES] == alerts.RESOLVED
    assert reopened[Kind.LMS_FAILURES] == alerts.OPENED
    assert subjects() == [
        "[MaalEdu alert] LMS syncs failing",
        "[MaalEdu resolved] LMS syncs failing",
        "[MaalEdu alert] LMS syncs failing",
    ]
    assert Incident.objects.filter(kind=Kind.LMS_FAILURES).count() == 2
    assert Incident.objects.filter(kind=Kind.LMS_FAILURES, resolved_at__isnull=True).count() == 1


def test_real_lms_failures_of_older_enrollments_are_counted(settings, run_checks):
    settings.FRAPPE_URL = "http://127.0.0.1:9"  # never called: the course has no LMS mapping
    settings.FRAPPE_API_KEY, settings.FRAPPE_API_SECRET = "key", "secret"
    course = CourseFactory(frappe_course="")
    now = timezone.now()
    jobs = [
        enrollment_with_job(
            course=course,
            status=Enrollment.Status.PAID,
            paid_at=now - timedelta(hours=3),
            lms_status=LmsStatus.PENDING,
            lms_next_attempt_at=now,
        )
        for _ in range(3)
    ]
    LmsSyncJob.objects.update(updated_at=now - timedelta(hours=3))
    for job in jobs:
        assert lms_services.run_job(job_id=job_of(job).pk) == lms_services.FAILED

    assert run_checks()[Kind.LMS_FAILURES] == alerts.OPENED


# --- Paid enrollments waiting for the LMS ------------------------------------------------------


def test_paid_enrollments_waiting_past_the_threshold_alert_and_resolve_once_synced(run_checks):
    now = timezone.now()
    waiting = enrollment_with_job(
        status=Enrollment.Status.PAID,
        paid_at=now - timedelta(minutes=31),
        lms_status=LmsStatus.WAITING_CONFIG,
    )
    enrollment_with_job(
        status=Enrollment.Status.PAID,
        paid_at=now - timedelta(minutes=29),
        lms_status=LmsStatus.PENDING,
    )  # still within the threshold

    opened = run_checks()
    LmsSyncJob.objects.filter(enrollment=waiting).update(status=LmsStatus.SYNCED)
    resolved = run_checks()

    assert opened[Kind.LMS_OVERDUE] == alerts.OPENED
    assert resolved[Kind.LMS_OVERDUE] == alerts.RESOLVED
    assert subjects() == [
        "[MaalEdu alert] Paid enrollments waiting for the LMS",
        "[MaalEdu resolved] Paid enrollments waiting for the LMS",
    ]
    assert "1 paid enrollment(s) not enrolled in the LMS 30 minutes after payment" in (
        mail.outbox[0].body
    )
    assert "1 of them wait for the LMS configuration" in mail.outbox[0].body


def test_refunded_enrollments_waiting_to_be_removed_from_the_lms_are_not_overdue(run_checks):
    enrollment_with_job(
        status=Enrollment.Status.REFUNDED,
        paid_at=timezone.now() - timedelta(days=3),
        lms_status=LmsStatus.PENDING,
        lms_action=LmsSyncJob.Action.UNENROL,
    )

    assert run_checks()[Kind.LMS_OVERDUE] == alerts.QUIET


# --- Stripe events that failed -----------------------------------------------------------------


def test_a_failed_stripe_event_alerts_and_resolves_once_reprocessed(run_checks):
    event = StripeEvent.objects.create(
        event_id="evt_failed_1",
        type="charge.refunded",
        payload={},
        outcome=StripeEvent.Outcome.FAILED,
        error="ValueError: charge for jane@example.com has no amount_refunded",
    )

    opened = run_checks()
    StripeEvent.objects.filter(pk=event.pk).update(outcome=StripeEvent.Outcome.PROCESSED)
    resolved = run_checks()

    assert opened[Kind.STRIPE_EVENT_FAILED] == alerts.OPENED
    assert resolved[Kind.STRIPE_EVENT_FAILED] == alerts.RESOLVED
    body = mail.outbox[0].body
    assert "1 Stripe event(s) failed processing" in body
    assert "evt_failed_1 (charge.refunded): ValueError: charge for j***@example.com" in body
    assert "jane@example.com" not in body


def test_a_still_open_incident_keeps_the_latest_detail_without_a_new_email(run_checks):
    for index in range(7):
        StripeEvent.objects.create(
            event_id=f"evt_{index}", type="charge.refunded", payload={}, outcome="failed"
        )
    run_checks()
    StripeEvent.objects.create(
        event_id="evt_7", type="charge.refunded", payload={}, outcome="failed"
    )

    assert run_checks()[Kind.STRIPE_EVENT_FAILED] == alerts.STILL_OPEN
    assert len(mail.outbox) == 1
    assert "7 Stripe event(s)" in mail.outbox[0].body
    assert Incident.objects.get().last_detail.startswith("8 Stripe event(s) failed processing")


# --- No webhook while checkouts start ----------------------------------------------------------


def checkout_started(ago: timedelta, **fields) -> Enrollment:
    enrollment = EnrollmentFactory(**fields)
    Enrollment.objects.filter(pk=enrollment.pk).update(created_at=timezone.now() - ago)
    return enrollment


def test_checkouts_without_any_webhook_for_a_day_alert_until_an_event_arrives(run_checks):
    checkout_started(timedelta(hours=3))
    StripeEvent.objects.create(event_id="evt_old", type="checkout.session.completed", payload={})
    StripeEvent.objects.filter(event_id="evt_old").update(
        received_at=timezone.now() - timedelta(hours=25)
    )

    opened = run_checks()
    StripeEvent.objects.create(event_id="evt_new", type="checkout.session.expired", payload={})
    resolved = run_checks()

    assert opened[Kind.WEBHOOKS_SILENT] == alerts.OPENED
    assert resolved[Kind.WEBHOOKS_SILENT] == alerts.RESOLVED
    assert subjects()[0] == "[MaalEdu alert] No Stripe webhook while checkouts start"
    assert "reconcile --since 48h" in mail.outbox[0].body


@pytest.mark.parametrize(
    "started",
    [
        {"ago": timedelta(minutes=30)},  # its session has not expired yet: no event is due
        {"ago": timedelta(hours=25)},  # older than the window
        {"ago": timedelta(hours=3), "stripe_session_id": None},  # never reached Stripe
    ],
)
def test_checkouts_that_owe_no_webhook_yet_do_not_alert(run_checks, started):
    checkout_started(**started)

    assert run_checks()[Kind.WEBHOOKS_SILENT] == alerts.QUIET


# --- E-mails: once each, never lost ------------------------------------------------------------


def test_an_incident_that_clears_before_its_email_went_out_sends_nothing(redis_down):
    failed_lms_jobs(3)
    alerts.check_alerts()  # its e-mail task has not run (the broker is down)
    LmsSyncJob.objects.update(updated_at=timezone.now() - timedelta(hours=2))
    alerts.check_alerts()

    incident = Incident.objects.get()
    assert incident.resolved_at is not None
    assert outbox.find(alerts.email_key(incident.pk, alerts.OPENED_EMAIL)).status == "canceled"
    assert outbox.find(alerts.email_key(incident.pk, alerts.RESOLVED_EMAIL)) is None
    assert outbox.sweep(now=timezone.now() + timedelta(hours=1)) == 0
    assert mail.outbox == []


def test_a_failed_send_is_retried_by_the_outbox_and_sent_once(
    settings, django_capture_on_commit_callbacks
):
    failed_lms_jobs(3)
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    with django_capture_on_commit_callbacks(execute=True):
        alerts.check_alerts()
    incident = Incident.objects.get()
    key = alerts.email_key(incident.pk, alerts.OPENED_EMAIL)
    assert (outbox.find(key).status, outbox.find(key).attempts) == ("pending", 1)

    settings.EMAIL_BACKEND = WORKING_BACKEND
    later = timezone.now() + timedelta(minutes=5)
    assert outbox.sweep(now=later) == 1
    assert outbox.sweep(now=later) == 0
    assert subjects() == ["[MaalEdu alert] LMS syncs failing"]


def test_an_email_whose_task_was_lost_is_sent_by_the_outbox_sweep(run_checks, redis_down):
    failed_lms_jobs(3)
    alerts.check_alerts()  # its on-commit task is dropped: the message was lost
    redis_down.end()
    later = timezone.now() + timedelta(minutes=6)

    outcomes = run_checks(now=later)

    assert outcomes[Kind.LMS_FAILURES] == alerts.STILL_OPEN
    assert mail.outbox == []  # a check does not send again: the outbox's sweep does
    assert outbox.sweep(now=later) == 1
    assert subjects() == ["[MaalEdu alert] LMS syncs failing"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor == "sqlite", reason="real concurrency needs PostgreSQL or MongoDB"
)
def test_two_concurrent_checks_open_one_incident():
    outcomes = race(
        lambda: alerts.open_incident(kind=Kind.LMS_OVERDUE, detail="x", now=timezone.now()), 2
    )

    assert sorted(outcomes) == [alerts.OPENED, alerts.STILL_OPEN]
    assert Incident.objects.count() == 1


@on_mongodb_only
def test_mongodb_refuses_a_second_open_incident_of_a_kind_and_key():
    """The one-open-incident rule is the partial unique index on ``is_open`` (an equality, which
    MongoDB's partial indexes take): a second open incident is refused there too, a resolved
    one does not count."""
    first = Incident.objects.create(kind=Kind.LMS_FAILURES, key="")
    with pytest.raises(IntegrityError), atomic():
        Incident.objects.create(kind=Kind.LMS_FAILURES, key="")
    Incident.objects.create(kind=Kind.LMS_FAILURES, key="course-1")  # another key
    first.resolved_at = timezone.now()
    first.save()
    assert not Incident.objects.get(pk=first.pk).is_open
    Incident.objects.create(kind=Kind.LMS_FAILURES, key="")  # the next occurrence
    assert Incident.objects.filter(kind=Kind.LMS_FAILURES, is_open=True).count() == 2
