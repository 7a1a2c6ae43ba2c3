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
from lms_sync.frappe import FrappeClient

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


def paid_job(course: Course, **fields: Any) -> Enrollment:
    """A paid enrollment whose enrol job is due now, as the payment update leaves it."""
    now = timezone.now()
    defaults = {
        "status": Enrollment.Status.PAID,
        "kind": Enrollment.Kind.PURCHASE,
        "paid_at": now,
        "lms_status": Enrollment.LmsStatus.PENDING,
        "lms_action": Enrollment.LmsAction.ENROL,
        "lms_next_attempt_at": now,
    }
    return EnrollmentFactory(course=course, **{**defaults, **fields})


def enrolment_posts(fake: FakeFrappe) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.method == "POST" and r.path == ENROLMENTS_PATH]


def reload(enrollment: Enrollment) -> Enrollment:
    return Enrollment.objects.get(pk=enrollment.pk)


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
