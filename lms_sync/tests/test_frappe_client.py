"""FrappeClient against the fake Frappe site over real HTTP; no database, no mocked requests."""

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
from django.conf import settings

from fakes.frappe_server import TRACEBACK_HEAD, FakeFrappe, RecordedRequest
from lms_sync.frappe import (
    FrappeClient,
    FrappeConfig,
    LmsConfigError,
    LmsCourseUnpublished,
    LmsMappingError,
    LmsNotConfigured,
    LmsTransientError,
    LmsUnknownSite,
    LmsUnreachable,
)

COURSE = "intro-to-django"
ENROLMENTS_PATH = "/api/resource/LMS Enrollment"


@pytest.fixture
def fake() -> Iterator[FakeFrappe]:
    with FakeFrappe(api_key="key", api_secret="secret", site="lms.test") as server:
        server.add_course(COURSE)
        yield server


def make_client(
    fake: FakeFrappe, session: requests.Session | None = None, **overrides: Any
) -> FrappeClient:
    config = FrappeConfig(
        base_url=fake.url,
        api_key="key",
        api_secret="secret",
        host_header="lms.test",
        connect_timeout=2.0,
        read_timeout=5.0,
    )
    return FrappeClient(replace(config, **overrides), session=session)


@pytest.fixture
def client(fake: FakeFrappe) -> Iterator[FrappeClient]:
    client = make_client(fake)
    yield client
    client.close()


def enrolment_posts(fake: FakeFrappe) -> list[RecordedRequest]:
    return calls(fake, "POST", ENROLMENTS_PATH)


def calls(fake: FakeFrappe, method: str, path: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.method == method and r.path == path]


def session_after(method: str, path_part: str, action: Any) -> requests.Session:
    """A session that runs ``action`` once, right after the first matching response arrives:
    a competing change placed at an exact point of the client's sequence."""
    session = requests.Session()
    done: list[bool] = []

    def hook(response: requests.Response, **_: Any) -> None:
        if not done and response.request.method == method and path_part in response.request.url:
            done.append(True)
            action()

    session.hooks["response"].append(hook)
    return session


# -- enrol --------------------------------------------------------------------------------------


def test_enrol_creates_the_learner_and_one_enrolment(client, fake):
    name = client.enrol(email="Ada@Example.com", full_name="Ada  King Lovelace", course=COURSE)

    assert fake.enrollments[name]["member"] == "ada@example.com"
    [user_post] = calls(fake, "POST", "/api/resource/User")
    assert user_post.json == {
        "email": "Ada@Example.com",
        "first_name": "Ada",
        "last_name": "King Lovelace",
        "send_welcome_email": 1,
        "user_type": "Website User",
        "roles": [{"role": "LMS Student"}],
    }


def test_duplicate_enrolment_is_not_created_when_one_exists(client, fake):
    first = client.enrol(email="ada@example.com", full_name="Ada", course=COURSE)

    second = client.enrol(email="ada@example.com", full_name="Ada", course=COURSE)

    assert second == first
    assert list(fake.enrollments) == [first]
    assert len(calls(fake, "POST", ENROLMENTS_PATH)) == 1


def test_second_enrolment_does_not_create_the_user_again(client, fake):
    fake.add_course("second-course")
    client.enrol(email="ada@example.com", full_name="Ada", course=COURSE)

    client.enrol(email="ada@example.com", full_name="Ada", course="second-course")

    assert len(calls(fake, "POST", "/api/resource/User")) == 1
    assert len(fake.enrollments) == 2


def test_user_created_between_lookup_and_create_is_treated_as_existing(fake):
    session = session_after(
        "GET", "/api/resource/User/", lambda: fake.add_user("ada@example.com", "Ada Lovelace")
    )
    client = make_client(fake, session=session)

    name = client.ensure_user(email="ada@example.com", full_name="Ada")

    assert name == "ada@example.com"
    assert len(calls(fake, "POST", "/api/resource/User")) == 1
    assert fake.users[name]["last_name"] == "Lovelace"  # the POST got 409 and changed nothing


def test_new_users_get_no_welcome_email_when_configured_off(fake):
    make_client(fake, send_welcome_email=False).ensure_user(email="ada@example.com")

    [user_post] = calls(fake, "POST", "/api/resource/User")
    assert user_post.json["send_welcome_email"] == 0
    assert user_post.json["first_name"] == "ada"


def test_retry_after_a_timed_out_enrolment_post_finds_the_enrolment_it_created(fake):
    def slow_down() -> None:
        fake.slow_seconds = 1.0

    session = session_after("POST", "/api/resource/User", slow_down)  # the step before the POST
    client = make_client(fake, session=session, read_timeout=0.3)
    with pytest.raises(LmsTransientError):
        client.enrol(email="ada@example.com", full_name="Ada", course=COURSE)
    fake.slow_seconds = 0
    [created] = fake.enrollments  # the POST took effect although the client saw a timeout

    name = make_client(fake).enrol(email="ada@example.com", full_name="Ada", course=COURSE)

    assert name == created
    assert list(fake.enrollments) == [created]


def test_an_empty_course_name_is_refused_before_any_request(client, fake):
    with pytest.raises(LmsMappingError):
        client.enrol(email="ada@example.com", full_name="Ada", course=" ")

    assert fake.requests == []


def test_enrolling_in_a_missing_course_is_a_mapping_error_before_anything_is_written(client, fake):
    with pytest.raises(LmsMappingError) as caught:
        client.enrol(email="ada@example.com", full_name="Ada", course="no-such-course")

    assert (caught.value.status, caught.value.exc_type) == (404, "DoesNotExistError")
    assert caught.value.detail == "LMS Course 'no-such-course' does not exist"
    assert (fake.users, fake.enrollments) == ({}, {})


def test_enrolling_in_an_unpublished_course_is_refused_though_frappe_would_accept_it(client, fake):
    fake.add_course("draft", published=False)  # the fake's API user is a Moderator, as live

    with pytest.raises(LmsCourseUnpublished) as caught:
        client.enrol(email="ada@example.com", full_name="Ada", course="draft")

    assert caught.value.detail == "the LMS course 'draft' is not published in Frappe"
    assert isinstance(caught.value, LmsMappingError)
    assert (fake.users, fake.enrollments) == ({}, {})
    assert enrolment_posts(fake) == []


def test_a_learner_enrolled_before_the_course_was_unpublished_is_found_not_refused(client, fake):
    fake.add_course("later-draft")
    name = client.enrol(email="ada@example.com", full_name="Ada", course="later-draft")
    fake.courses["later-draft"]["published"] = 0  # staff unpublish it afterwards

    assert client.enrol(email="ada@example.com", full_name="Ada", course="later-draft") == name
    assert len(enrolment_posts(fake)) == 1


def test_a_paid_lms_course_is_enrolled_through_the_moderator_user(client, fake):
    fake.add_course("paid", paid=True)

    name = client.enrol(email="ada@example.com", full_name="Ada", course="paid")

    assert fake.enrollments[name]["course"] == "paid"


@pytest.mark.parametrize(
    ("course", "message"),
    [
        ("self-paced-off", "You cannot enroll in this course as self-learning is disabled."),
        ("paid", "You need to complete the payment for this course before enrolling."),
    ],
)
def test_without_moderator_frappes_own_refusal_is_a_mapping_error(course, message):
    with FakeFrappe(site="lms.test", roles=["System Manager", "LMS Student"]) as fake:
        fake.add_course("paid", paid=True)
        fake.add_course("self-paced-off", disable_self_learning=True)
        client = make_client(fake)

        with pytest.raises(LmsMappingError) as caught:
            client.enrol(email="ada@example.com", full_name="Ada", course=course)
        client.close()

    assert caught.value.status == 417
    assert message in caught.value.detail
    assert TRACEBACK_HEAD not in caught.value.detail
    assert fake.enrollments == {}


# -- unenrol, progress, course, credentials -----------------------------------------------------


def test_unenrol_deletes_every_enrolment_and_a_second_call_deletes_none(client, fake):
    fake.add_enrollment("ada@example.com", COURSE)
    fake.add_enrollment("ada@example.com", COURSE)  # a duplicate frappe 15 let through
    kept = fake.add_enrollment("ada@example.com", "other-course")

    first = client.unenrol(email="Ada@example.com", course=COURSE)
    second = client.unenrol(email="ada@example.com", course=COURSE)

    assert (first, second) == (2, 0)
    assert list(fake.enrollments) == [kept]


def test_unenrol_treats_an_enrolment_deleted_meanwhile_as_done(fake):
    fake.add_enrollment("ada@example.com", COURSE)
    session = session_after("GET", "/api/resource/LMS%20Enrollment?", fake.enrollments.clear)

    deleted = make_client(fake, session=session).unenrol(email="ada@example.com", course=COURSE)

    assert deleted == 0
    assert [r.method for r in fake.requests] == ["GET", "DELETE"]  # the DELETE got 404


def test_progress_for_many_members_takes_one_request(client, fake):
    members = [f"learner{i}@example.com" for i in range(30)]
    for i, member in enumerate(members):
        fake.add_enrollment(member, COURSE, progress=float(i))
    fake.add_enrollment(members[0], COURSE, progress=75.0)  # duplicate: the best counts
    fake.add_enrollment(members[1], "other-course", progress=99.0)

    progress = client.progress_for(course=COURSE, members=[*members, "never@example.com"])

    assert len(fake.requests) == 1
    assert progress == {members[0]: 75.0, **{m: float(i) for i, m in enumerate(members) if i}}


def test_get_course_returns_the_course_and_a_missing_one_is_a_mapping_error(client):
    assert client.get_course(COURSE)["published"] == 1
    with pytest.raises(LmsMappingError) as caught:
        client.get_course("no-such-course")
    assert caught.value.status == 404


def test_check_credentials_returns_the_api_user(client, fake):
    assert client.check_credentials() == fake.api_user


# -- failure classification ---------------------------------------------------------------------


def test_a_refused_connection_is_transient(fake):
    client = make_client(fake)
    fake.stop()

    with pytest.raises(LmsUnreachable):  # transient: no answer at all
        client.check_credentials()


def test_a_dropped_connection_is_transient(client, fake):
    fake.down = True

    with pytest.raises(LmsTransientError):
        client.check_credentials()


def test_a_slow_answer_is_a_transient_timeout(fake):
    fake.slow_seconds = 1.0

    with pytest.raises(LmsTransientError) as caught:
        make_client(fake, read_timeout=0.1).check_credentials()

    assert "ReadTimeout" in caught.value.detail


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_and_gateway_errors_are_transient_without_traceback(client, fake, status):
    fake.fail_next(status=status)

    with pytest.raises(LmsTransientError) as caught:
        client.enrol(email="ada@example.com", full_name="Ada", course=COURSE)

    assert caught.value.status == status
    assert TRACEBACK_HEAD not in caught.value.detail
    assert "apps/frappe" not in caught.value.detail


def test_a_server_error_detail_names_the_exception_class(client, fake):
    fake.fail_next(status=500)

    with pytest.raises(LmsTransientError) as caught:
        client.check_credentials()

    assert caught.value.detail == "HTTP 500 OperationalError"


def test_a_wrong_secret_is_a_config_error(fake):
    with pytest.raises(LmsConfigError) as caught:
        make_client(fake, api_secret="wrong").check_credentials()

    assert (caught.value.status, caught.value.exc_type) == (401, "AuthenticationError")


def test_a_proxy_dropping_the_auth_header_makes_a_guest_call_and_a_config_error(fake):
    class HeaderDroppingSession(requests.Session):
        def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
            kwargs["headers"] = {k: v for k, v in kwargs["headers"].items() if k != "Authorization"}
            return super().request(method, url, **kwargs)

    client = make_client(fake, session=HeaderDroppingSession())

    with pytest.raises(LmsConfigError) as caught:
        client.find_enrollment(member="ada@example.com", course=COURSE)

    assert (caught.value.status, caught.value.exc_type) == (403, "PermissionError")
    assert "User Guest does not have doctype access" in caught.value.detail


def test_an_unknown_site_is_a_config_error(fake):
    with pytest.raises(LmsUnknownSite) as caught:  # a config error
        make_client(fake, host_header="other.localhost").check_credentials()

    assert caught.value.status == 404
    assert "other.localhost does not exist" in caught.value.detail
    assert "FRAPPE_HOST_HEADER" in caught.value.detail


# -- settings -----------------------------------------------------------------------------------


def set_frappe_settings(monkeypatch: pytest.MonkeyPatch, **values: Any) -> None:
    base = {
        "FRAPPE_URL": "https://lms.example.com",
        "FRAPPE_API_KEY": "k",
        "FRAPPE_API_SECRET": "s",
        "FRAPPE_HOST_HEADER": "",
        "FRAPPE_CONNECT_TIMEOUT": 3,
        "FRAPPE_READ_TIMEOUT": 9,
        "FRAPPE_SEND_WELCOME_EMAIL": False,
    }
    for name, value in {**base, **values}.items():
        monkeypatch.setattr(settings, name, value, raising=False)


def test_from_settings_builds_the_config(monkeypatch):
    set_frappe_settings(monkeypatch)

    config = FrappeClient.from_settings().config

    assert config == FrappeConfig(
        base_url="https://lms.example.com",
        api_key="k",
        api_secret="s",
        host_header=None,
        connect_timeout=3.0,
        read_timeout=9.0,
        send_welcome_email=False,
    )


def test_from_settings_without_a_secret_is_not_configured(monkeypatch):
    set_frappe_settings(monkeypatch, FRAPPE_API_SECRET="")

    with pytest.raises(LmsNotConfigured, match="FRAPPE_API_SECRET"):
        FrappeClient.from_settings()
