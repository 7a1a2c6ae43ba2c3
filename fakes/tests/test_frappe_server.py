"""The fake answers the way the live frappe 15 + LMS site did (frappe-lms-rest.md)."""

import json
from collections.abc import Iterator

import pytest
import requests

from fakes.frappe_server import TRACEBACK_HEAD, FakeFrappe

AUTH = {"Authorization": "token key:secret", "Host": "lms.test"}
ENROLMENTS = "/api/resource/LMS%20Enrollment"


@pytest.fixture
def fake() -> Iterator[FakeFrappe]:
    with FakeFrappe(api_key="key", api_secret="secret", site="lms.test") as server:
        server.add_course("intro-to-django")
        yield server


def call(
    fake: FakeFrappe,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    **kwargs: object,
) -> requests.Response:
    return requests.request(
        method, fake.url + path, headers=AUTH if headers is None else headers, timeout=5, **kwargs
    )


def server_messages(response: requests.Response) -> list[str]:
    return [json.loads(item)["message"] for item in json.loads(response.json()["_server_messages"])]


def test_posting_the_same_member_and_course_twice_creates_two_enrolments(fake):
    body = {"course": "intro-to-django", "member": "ada@example.com"}

    first = call(fake, "POST", ENROLMENTS, json=body)
    second = call(fake, "POST", ENROLMENTS, json=body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["data"]["name"] != second.json()["data"]["name"]
    assert len(fake.enrollments) == 2


def test_an_enrolment_for_a_member_without_a_user_is_accepted(fake):
    response = call(
        fake, "POST", ENROLMENTS, json={"course": "intro-to-django", "member": "ghost@example.com"}
    )

    assert response.status_code == 200
    assert "ghost@example.com" not in fake.users


def test_creating_an_existing_user_gives_409_duplicate_entry(fake):
    body = {"email": "Ada@Example.com", "first_name": "Ada", "send_welcome_email": 0}
    created = call(fake, "POST", "/api/resource/User", json=body)

    again = call(fake, "POST", "/api/resource/User", json=body)

    assert created.json()["data"]["name"] == "ada@example.com"
    assert again.status_code == 409
    assert again.json()["exc_type"] == "DuplicateEntryError"
    assert server_messages(again) == ["User <strong>ada@example.com</strong> already exists"]


def test_a_wrong_secret_gives_401_without_server_messages(fake):
    response = call(fake, "GET", ENROLMENTS, headers={**AUTH, "Authorization": "token key:nope"})

    assert response.status_code == 401
    assert response.json()["exc_type"] == "AuthenticationError"
    assert "_server_messages" not in response.json()


def test_no_auth_header_runs_as_guest_and_a_list_gets_403(fake):
    response = call(fake, "GET", ENROLMENTS, headers={"Host": "lms.test"})

    assert response.status_code == 403
    assert response.json()["exc_type"] == "PermissionError"


def test_an_unknown_host_gets_a_404_html_page(fake):
    response = call(fake, "GET", ENROLMENTS, headers={**AUTH, "Host": "other.localhost"})

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<p>other.localhost does not exist</p>" in response.text


def test_deleting_an_enrolment_gives_202_then_404(fake):
    name = fake.add_enrollment("ada@example.com", "intro-to-django")

    first = call(fake, "DELETE", f"{ENROLMENTS}/{name}")
    second = call(fake, "DELETE", f"{ENROLMENTS}/{name}")

    assert (first.status_code, first.json()) == (202, {"data": "ok"})
    assert second.status_code == 404
    assert second.json()["exc_type"] == "DoesNotExistError"


@pytest.mark.parametrize(
    ("course", "exc_type", "message"),
    [
        ("no-such-course", "LinkValidationError", "Could not find Course: no-such-course"),
        ("draft", "ValidationError", "You cannot enroll in an unpublished course."),
        (
            "paid",
            "ValidationError",
            "You need to complete the payment for this course before enrolling.",
        ),
    ],
)
def test_without_moderator_a_missing_unpublished_or_paid_course_gives_417(
    course, exc_type, message
):
    with FakeFrappe(site="lms.test", roles=["System Manager", "LMS Student"]) as fake:
        fake.add_course("draft", published=False)
        fake.add_course("paid", paid=True)

        response = call(
            fake, "POST", ENROLMENTS, json={"course": course, "member": "ada@example.com"}
        )

    assert response.status_code == 417
    assert response.json()["exc_type"] == exc_type
    assert server_messages(response) == [message]
    assert TRACEBACK_HEAD in json.loads(response.json()["exc"])[0]


def test_the_recommended_moderator_user_may_enrol_in_unpublished_and_paid_courses(fake):
    fake.add_course("draft", published=False)
    fake.add_course("paid", paid=True)

    statuses = [
        call(fake, "POST", ENROLMENTS, json={"course": c, "member": "a@example.com"}).status_code
        for c in ("draft", "paid", "no-such-course")
    ]

    assert statuses == [200, 200, 417]  # live, only a missing course is refused


def test_a_privileged_insert_keeps_progress_and_the_lesson_to_resume(fake):
    fake.add_lesson("lesson-3", "intro-to-django")
    body = {"course": "intro-to-django", "member": "a@example.com", "progress": 42.0}

    stored = call(fake, "POST", ENROLMENTS, json={**body, "current_lesson": "lesson-3"})
    missing = call(fake, "POST", ENROLMENTS, json={**body, "current_lesson": "deleted-lesson"})

    assert stored.status_code == 200
    assert (stored.json()["data"]["progress"], stored.json()["data"]["current_lesson"]) == (
        42.0,
        "lesson-3",
    )
    assert missing.status_code == 417
    assert server_messages(missing) == ["Could not find Current Lesson: deleted-lesson"]


def test_a_body_without_course_gives_500(fake):
    response = call(fake, "POST", ENROLMENTS, json={"member": "ada@example.com"})

    assert response.status_code == 500
    assert response.json()["exc_type"] == "AttributeError"


def test_lists_honour_filters_fields_and_paging(fake):
    for member in ("a@example.com", "b@example.com", "c@example.com"):
        fake.add_enrollment(member, "intro-to-django", progress=10.0)
    fake.add_enrollment("a@example.com", "other-course")
    params = {
        "filters": json.dumps(
            {"course": "intro-to-django", "member": ["in", ["a@example.com", "b@example.com"]]}
        ),
        "fields": json.dumps(["member", "progress"]),
        "order_by": "creation asc",
        "limit_page_length": 1,
        "limit_start": 1,
    }

    response = call(fake, "GET", ENROLMENTS, params=params)

    assert response.json() == {"data": [{"member": "b@example.com", "progress": 10.0}]}
    assert fake.requests[-1].query["limit_start"] == "1"


def test_fail_next_answers_with_a_gateway_page_then_recovers(fake):
    fake.fail_next(status=502, path_contains="LMS Enrollment")

    failed = call(fake, "GET", ENROLMENTS)
    recovered = call(fake, "GET", ENROLMENTS)

    assert failed.status_code == 502
    assert "502 Bad Gateway" in failed.text
    assert recovered.status_code == 200
