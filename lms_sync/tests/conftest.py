from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from django.utils import timezone

from courses.models import Course
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from enrollments.tests.factories import EnrollmentFactory
from fakes.frappe_server import FakeFrappe, RecordedRequest
from lms_sync import selectors
from lms_sync.frappe import FrappeClient
from lms_sync.models import LmsSyncJob
from lms_sync.tests.factories import split_job_fields

COURSE = "intro-to-django"
ENROLMENTS_PATH = "/api/resource/LMS Enrollment"


@pytest.fixture
def fake(settings) -> Iterator[FakeFrappe]:
    """A fake Frappe LMS over real HTTP, with the FRAPPE_* settings pointing at it."""
    with FakeFrappe(api_key="key", api_secret="secret", site="lms.test") as server:
        server.add_course(COURSE)
        settings.FRAPPE_URL = server.url
        settings.FRAPPE_API_KEY = "key"
        settings.FRAPPE_API_SECRET = "secret"
        settings.FRAPPE_HOST_HEADER = server.site
        settings.FRAPPE_READ_TIMEOUT = 5.0
        yield server


@pytest.fixture
def course(db) -> Course:
    return CourseFactory(frappe_course=COURSE)


def paid_job(course: Course, **fields: Any) -> LmsSyncJob:
    """A paid enrollment and its enrol job, due now, as lms_sync creates it when it hears
    ``enrollment_paid``. ``lms_*`` keywords set the job's fields, the others the enrollment's."""
    now = timezone.now()
    job_fields = {"action": LmsSyncJob.Action.ENROL, "next_attempt_at": now}
    job_fields.update(split_job_fields(fields))
    defaults = {
        "status": Enrollment.Status.PAID,
        "kind": Enrollment.Kind.PURCHASE,
        "paid_at": now,
    }
    enrollment = EnrollmentFactory(course=course, **{**defaults, **fields})
    return LmsSyncJob.objects.create(enrollment=enrollment, **job_fields)


def refund(job: LmsSyncJob) -> LmsSyncJob:
    """Refund the job's enrollment in full, then do what lms_sync's ``enrollment_revoked``
    receiver does (the tests' transaction never commits, so the signal is not sent); the task
    message it enqueues is not sent either. Returns the enrollment's current (unenrol) job."""
    from enrollments import services as enrollment_services
    from lms_sync import services

    enrollment = job.enrollment
    enrollment_services.apply_refund(
        enrollment_id=enrollment.pk, refunded_cents=enrollment.amount_due_cents
    )
    services.schedule(enrollment_id=enrollment.pk)
    return selectors.current_job(enrollment.pk)


def job_of(enrollment: Enrollment) -> LmsSyncJob | None:
    """The enrollment's current LMS job (what lms_sync's selectors call current)."""
    return selectors.current_job(enrollment.pk)


def enrolment_posts(fake: FakeFrappe) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.method == "POST" and r.path == ENROLMENTS_PATH]


def reload(row):
    """The row again from the database (a job, or an enrollment)."""
    return type(row).objects.get(pk=row.pk)


def hook_first_client(monkeypatch, action: Callable[[], None]) -> None:
    """The first FrappeClient built from settings runs ``action`` once, right after its first
    answer arrives: a competing call placed at an exact point of a sync."""
    build = FrappeClient.from_settings
    built: list[FrappeClient] = []

    def from_settings() -> FrappeClient:
        client = build()
        if built:
            built.append(client)
            return client
        session = requests.Session()

        def hook(response: requests.Response, **_: Any) -> None:
            session.hooks["response"].remove(hook)
            action()

        session.hooks["response"].append(hook)
        client.close()
        hooked = FrappeClient(client.config, session=session)
        built.append(hooked)
        return hooked

    monkeypatch.setattr(FrappeClient, "from_settings", staticmethod(from_settings))


@pytest.fixture
def lms_alerts() -> Iterator[list[tuple[str, dict]]]:
    """What lms_sync tells the layer above through its signals, in order: ("failing",
    {reason, key, detail}) and ("recovered", {course_id})."""
    from lms_sync import signals

    heard: list[tuple[str, dict]] = []

    def failing(sender, **kwargs):
        heard.append(("failing", {k: kwargs[k] for k in ("reason", "key", "detail")}))

    def recovered(sender, **kwargs):
        heard.append(("recovered", {"course_id": kwargs["course_id"]}))

    signals.lms_sync_failing.connect(failing, dispatch_uid="test.failing")
    signals.lms_sync_recovered.connect(recovered, dispatch_uid="test.recovered")
    yield heard
    signals.lms_sync_failing.disconnect(dispatch_uid="test.failing")
    signals.lms_sync_recovered.disconnect(dispatch_uid="test.recovered")


def opened_emails(mailoutbox) -> list:
    """The staff e-mails that announce an incident (ops also e-mails when one clears)."""
    return [m for m in mailoutbox if m.subject.startswith("[MaalEdu alert]")]
