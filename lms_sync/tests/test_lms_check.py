"""``manage.py lms_check`` against the fake Frappe LMS: what it prints and how it exits."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from courses.tests.factories import CourseFactory

from .conftest import COURSE

pytestmark = pytest.mark.django_db


def lms_check() -> str:
    out = StringIO()
    call_command("lms_check", stdout=out)
    return out.getvalue()


def test_all_courses_mapped_to_published_lms_courses_pass(fake):
    CourseFactory(title="Intro to Django", frappe_course=COURSE)
    CourseFactory(title="Draft", frappe_course="", is_published=False)  # not sold: not checked

    output = lms_check()

    assert "OK    credentials (API user lms-integration@example.com)" in output
    assert f"OK    Intro to Django → {COURSE}" in output
    assert "Draft" not in output
    assert "Every published course maps to a published LMS course." in output


def test_each_wrong_mapping_is_printed_and_the_command_exits_non_zero(fake):
    fake.add_course("draft-course", published=False)
    CourseFactory(title="Intro to Django", frappe_course=COURSE)
    CourseFactory(title="AWS", slug="aws", frappe_course="no-such-course")
    CourseFactory(title="Kubernetes", slug="k8s", frappe_course="draft-course")
    CourseFactory(title="Linux", slug="linux", frappe_course="")
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("lms_check", stdout=out)

    output = out.getvalue()
    assert "WRONG AWS (/courses/aws/): the LMS course 'no-such-course' does not exist" in output
    assert (
        "WRONG Kubernetes (/courses/k8s/): the LMS course 'draft-course' is not published" in output
    )
    assert "WRONG Linux (/courses/linux/): no Frappe LMS course name is set" in output
    assert f"OK    Intro to Django → {COURSE}" in output
    assert str(raised.value) == "3 published course(s) cannot be synced to the LMS."
    assert raised.value.returncode == 1


def test_rejected_credentials_are_reported_and_the_command_exits_non_zero(fake, settings):
    CourseFactory(frappe_course=COURSE)
    settings.FRAPPE_API_SECRET = "wrong"

    with pytest.raises(CommandError) as raised:
        lms_check()

    assert str(raised.value) == (
        "Frappe refused the credentials (FRAPPE_API_KEY / FRAPPE_API_SECRET): "
        "HTTP 401 AuthenticationError"
    )
    assert raised.value.returncode == 1
    assert [r.path for r in fake.requests] == ["/api/method/frappe.auth.get_logged_user"]


def test_missing_settings_are_reported(settings):
    settings.FRAPPE_URL = ""

    with pytest.raises(CommandError, match="The LMS is not configured: FRAPPE_URL"):
        lms_check()


def test_an_lms_that_drops_the_connection_is_reported_as_unreachable_not_as_credentials(fake):
    CourseFactory(frappe_course=COURSE)
    fake.down = True

    with pytest.raises(CommandError) as raised:
        lms_check()

    message = str(raised.value)
    assert message.startswith(f"Could not reach Frappe at {fake.url} (FRAPPE_URL): ")
    assert "connection failed" in message
    assert "credentials" not in message


def test_a_refused_connection_is_reported_as_unreachable(fake, settings):
    url = fake.url
    fake.stop()  # nothing listens on the port any more

    with pytest.raises(CommandError) as raised:
        lms_check()

    assert str(raised.value).startswith(f"Could not reach Frappe at {url} (FRAPPE_URL): ")
    assert "credentials" not in str(raised.value)


def test_an_unknown_site_is_named_with_the_host_header_to_fix(fake, settings):
    settings.FRAPPE_HOST_HEADER = "other.localhost"  # the bench serves only lms.test

    with pytest.raises(CommandError) as raised:
        lms_check()

    message = str(raised.value)
    assert message.startswith(f"{fake.url} answered, but has no Frappe site 'other.localhost': ")
    assert "other.localhost does not exist" in message
    assert "FRAPPE_HOST_HEADER" in message
    assert "credentials" not in message


def test_a_frappe_server_error_is_reported_as_such(fake):
    fake.fail_next(502)  # nginx in front of a stopped Frappe

    with pytest.raises(CommandError) as raised:
        lms_check()

    assert str(raised.value).startswith(
        f"Frappe at {fake.url} answered with a server error: HTTP 502"
    )


def test_a_failure_while_checking_a_course_names_what_failed(fake):
    CourseFactory(frappe_course=COURSE)
    fake.fail_next(503, path_contains="LMS Course")

    with pytest.raises(CommandError) as raised:
        lms_check()

    assert str(raised.value).startswith(
        f"Could not check '{COURSE}'. Frappe at {fake.url} answered with a server error: HTTP 503"
    )
