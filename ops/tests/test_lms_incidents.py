"""LMS failures reach staff through one incident system: lms_sync's signals open and resolve
``ops.Incident`` rows keyed by (kind, key), e-mailed by the one incident notifier."""

import pytest
from django.core import mail

from courses.tests.factories import CourseFactory
from lms_sync import signals
from lms_sync.models import LmsSyncJob
from ops.models import Incident

pytestmark = pytest.mark.django_db

Kind = Incident.Kind


@pytest.fixture
def announce(django_capture_on_commit_callbacks):
    """Send an lms_sync signal as lms_sync does, with the after-commit e-mail task run."""

    def send(signal, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            signal.send(sender=LmsSyncJob, **kwargs)

    return send


def failing(reason: str, key: str, detail: str = "HTTP 401 AuthenticationError") -> dict:
    return {"reason": reason, "key": key, "detail": detail}


def test_a_failing_lms_opens_one_incident_per_kind_and_key_and_e_mails_staff_once(announce):
    announce(signals.lms_sync_failing, **failing("config", "site"))
    announce(signals.lms_sync_failing, **failing("config", "site", "HTTP 403"))  # still open
    announce(signals.lms_sync_failing, **failing("mapping", "course-1", "no such course"))
    announce(signals.lms_sync_failing, **failing("mapping", "course-2", "no such course"))

    open_incidents = set(
        Incident.objects.filter(resolved_at__isnull=True).values_list("kind", "key")
    )
    assert open_incidents == {
        (Kind.LMS_CONFIG, "site"),
        (Kind.LMS_MAPPING, "course-1"),
        (Kind.LMS_MAPPING, "course-2"),
    }
    assert Incident.objects.get(kind=Kind.LMS_CONFIG).last_detail == "HTTP 403"
    assert sorted(m.subject for m in mail.outbox) == [
        "[MaalEdu alert] LMS course mapping rejected",
        "[MaalEdu alert] LMS course mapping rejected",
        "[MaalEdu alert] LMS credentials or site rejected",
    ]
    config_mail = next(m for m in mail.outbox if "credentials" in m.subject)
    assert "lms_check" in config_mail.body


def test_a_successful_sync_resolves_the_site_incidents_and_its_course_only(announce):
    course = CourseFactory()
    other = CourseFactory()
    announce(signals.lms_sync_failing, **failing("config", "site"))
    announce(signals.lms_sync_failing, **failing("gave_up", "site", "HTTP 417"))
    announce(signals.lms_sync_failing, **failing("mapping", f"course-{course.pk}"))
    announce(signals.lms_sync_failing, **failing("mapping", f"course-{other.pk}"))
    mail.outbox.clear()

    announce(signals.lms_sync_recovered, course_id=course.pk)
    announce(signals.lms_sync_recovered, course_id=course.pk)  # a repeat changes nothing

    still_open = set(Incident.objects.filter(resolved_at__isnull=True).values_list("kind", "key"))
    assert still_open == {(Kind.LMS_MAPPING, f"course-{other.pk}")}
    assert sorted(m.subject for m in mail.outbox) == [
        "[MaalEdu resolved] LMS course mapping rejected",
        "[MaalEdu resolved] LMS credentials or site rejected",
        "[MaalEdu resolved] LMS sync jobs failed",
    ]

    announce(signals.lms_sync_failing, **failing("config", "site"))  # broken again: new incident
    assert Incident.objects.filter(kind=Kind.LMS_CONFIG).count() == 2


def test_a_job_frappe_refuses_for_good_e_mails_staff_once_through_ops_only(
    settings, django_capture_on_commit_callbacks
):
    """The whole path: lms_sync gives up on a job, ops opens the incident, one e-mail."""
    from fakes.frappe_server import FakeFrappe
    from lms_sync import services
    from lms_sync.tests.conftest import paid_job

    with FakeFrappe(api_key="key", api_secret="secret", site="lms.test") as frappe:
        settings.FRAPPE_URL, settings.FRAPPE_HOST_HEADER = frappe.url, frappe.site
        settings.FRAPPE_API_KEY, settings.FRAPPE_API_SECRET = "key", "secret"
        course = CourseFactory(frappe_course="missing-course", title="Kubernetes Admin")
        jobs = [paid_job(course), paid_job(course)]
        with django_capture_on_commit_callbacks(execute=True):
            outcomes = [services.run_job(job_id=job.pk) for job in jobs]

    assert outcomes == [services.FAILED, services.FAILED]
    incident = Incident.objects.get()
    assert (incident.kind, incident.key) == (Kind.LMS_MAPPING, f"course-{course.pk}")
    [email] = mail.outbox
    assert email.subject == "[MaalEdu alert] LMS course mapping rejected"
    assert "Kubernetes Admin" in email.body
