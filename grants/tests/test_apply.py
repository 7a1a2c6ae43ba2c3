"""The public apply page: validation, duplicates, e-mails, rate limits."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.tests.factories import UserFactory
from courses.tests.factories import CourseFactory
from grants.models import Grant
from grants.services import DuplicateApplication, apply_for_grant
from grants.tests.factories import GrantFactory

pytestmark = pytest.mark.django_db

STATEMENT = (
    "I teach evening classes at a community centre and want to certify so I can run the "
    "official preparation course for my students next term."
)
URL = "/grants/apply/"


@pytest.fixture
def course():
    return CourseFactory(title="Kubernetes Administrator", slug="cka")


def _form(for_course, **overrides):
    data = {
        "name": "Ada Lovelace",
        "email": "Ada@Example.COM",
        "course": str(for_course.pk),
        "statement": STATEMENT,
        "organisation": "Night school",
        "country": "Ireland",
    }
    data.update(overrides)
    return data


def test_the_apply_page_is_public_and_offers_published_courses_only(client, course):
    CourseFactory(title="Secret draft course", is_published=False)

    response = client.get(reverse("grants:apply"))

    assert response.status_code == 200
    assert "Kubernetes Administrator" in response.text
    assert "Secret draft course" not in response.text
    assert 'name="csrfmiddlewaretoken"' in response.text
    assert '<label for="id_statement"' in response.text


def test_the_apply_page_preselects_the_course_and_fills_in_a_logged_in_learner(client, course):
    learner = UserFactory(email="ada@example.com", name="Ada Lovelace")
    client.force_login(learner)

    response = client.get(URL, {"course": "cka"})

    form = response.context["form"]
    assert form.initial["course"] == course
    assert (form.initial["email"], form.initial["name"]) == ("ada@example.com", "Ada Lovelace")


def test_an_unknown_course_in_the_link_is_ignored(client, course):
    response = client.get(URL, {"course": "no-such-course"})

    assert response.status_code == 200
    assert response.context["form"].initial["course"] is None


def test_applying_records_a_pending_grant_and_thanks_the_applicant(
    client, course, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, _form(course))

    assert response.status_code == 302
    assert response["Location"] == reverse("grants:thanks")
    grant = Grant.objects.get()
    assert (grant.email, grant.course, grant.status) == ("ada@example.com", course, "pending")
    assert (grant.name, grant.organisation, grant.country) == (
        "Ada Lovelace",
        "Night school",
        "Ireland",
    )
    assert grant.coupon_code is None

    # The thanks page reads what the session holds: plain strings, no key (JSON sessions).
    assert client.session["grants:applied"] == {
        "email": "ada@example.com",
        "course": course.title,
    }
    thanks = client.get(response["Location"])
    assert "Kubernetes Administrator" in thanks.text
    assert "ada@example.com" in thanks.text


def test_applying_emails_the_applicant_and_the_staff(
    client, course, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, _form(course))

    grant = Grant.objects.get()
    by_recipient = {tuple(message.to): message for message in mail.outbox}
    assert set(by_recipient) == {("ada@example.com",), ("staff@maaledu.test",)}
    receipt = by_recipient[("ada@example.com",)]
    assert receipt.subject == "We received your grant application for Kubernetes Administrator"
    assert "Hello Ada Lovelace" in receipt.body
    notice = by_recipient[("staff@maaledu.test",)]
    assert notice.subject == "New grant application: Ada Lovelace for Kubernetes Administrator"
    assert STATEMENT in notice.body
    assert f"http://testserver/admin/grants/grant/{grant.pk}/change/" in notice.body


def test_a_second_pending_application_is_explained_and_not_duplicated(
    client, course, django_capture_on_commit_callbacks
):
    GrantFactory(email="ada@example.com", course=course)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(URL, _form(course, email="ADA@example.com"))

    assert response.status_code == 200
    assert "already applied for a grant for this course" in response.text
    assert Grant.objects.count() == 1
    assert callbacks == []
    assert mail.outbox == []


def test_after_a_decision_the_same_person_may_apply_again(client, course):
    GrantFactory(email="ada@example.com", course=course, rejected=True)

    response = client.post(URL, _form(course))

    assert response.status_code == 302
    assert Grant.objects.filter(email="ada@example.com", status="pending").count() == 1


def test_the_service_refuses_a_duplicate_with_one_insert_attempt(course):
    apply_for_grant(name="Ada", email="ada@example.com", course=course, statement=STATEMENT)

    # SAVEPOINT, the INSERT the unique constraint refuses, ROLLBACK TO and RELEASE SAVEPOINT
    # (MongoDB: the refused insert alone, which its backend does not log): no read before or
    # after.
    with CaptureQueriesContext(connection) as queries, pytest.raises(DuplicateApplication):
        apply_for_grant(name="Ada", email="ADA@example.com", course=course, statement=STATEMENT)

    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) <= 4
    assert not [s for s in statements if s.startswith("SELECT") or ".aggregate(" in s]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "   "}, "name", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"statement": "Please."}, "statement", "at least 100 characters"),
        ({"statement": "x" * 5001}, "statement", "at most 5000 characters"),
        ({"course": "abc"}, "course", "Choose one of the courses in the list."),
        ({"course": "999999"}, "course", "Choose one of the courses in the list."),
        ({"country": "x" * 101}, "country", "at most 100 characters"),
    ],
)
def test_invalid_applications_are_shown_again_with_the_reason(
    client, course, overrides, field, message
):
    response = client.post(URL, _form(course, **overrides))

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message.replace("'", "&#x27;") in response.text
    widget = re.search(rf'<(?:input|select|textarea)[^>]*name="{field}"[^>]*>', response.text)
    assert 'aria-invalid="true"' in widget.group(0)
    assert Grant.objects.count() == 0


def test_an_unpublished_course_cannot_be_applied_for(client):
    draft = CourseFactory(is_published=False)

    response = client.post(URL, _form(draft))

    assert response.status_code == 200
    assert "course" in response.context["form"].errors
    assert Grant.objects.count() == 0


def test_optional_fields_may_be_left_empty(client, course):
    response = client.post(URL, _form(course, organisation="", country=""))

    assert response.status_code == 302


def test_the_form_requires_a_csrf_token(course):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(URL, _form(course))

    assert response.status_code == 403
    assert Grant.objects.count() == 0


def test_the_thank_you_page_without_an_application_leads_to_the_form(client):
    response = client.get(reverse("grants:thanks"))

    assert response.status_code == 302
    assert response["Location"] == URL


def test_applications_are_rate_limited_per_ip(client, course, settings):
    settings.GRANT_APPLY_RATE_PER_IP = "2/h"
    settings.GRANT_APPLY_RATE_PER_EMAIL = "100/h"
    other_course = CourseFactory()

    first = client.post(URL, _form(course, email="a@example.com"))
    second = client.post(URL, _form(other_course, email="b@example.com"))
    third = client.post(URL, _form(course, email="c@example.com"))

    assert (first.status_code, second.status_code, third.status_code) == (302, 302, 429)
    assert "Too many requests" in third.text
    assert Grant.objects.count() == 2
    assert client.get(URL).status_code == 200  # reading the page is never limited


def test_applications_are_rate_limited_per_email_across_addresses(course, settings):
    settings.GRANT_APPLY_RATE_PER_IP = "100/h"
    settings.GRANT_APPLY_RATE_PER_EMAIL = "2/h"
    courses = [course, CourseFactory(), CourseFactory()]

    statuses = [
        Client(REMOTE_ADDR=f"203.0.113.{n}").post(URL, _form(c, email=email)).status_code
        for n, (c, email) in enumerate(
            zip(courses, ["ada@example.com", "ADA@example.com", " ada@example.com"], strict=True)
        )
    ]

    assert statuses == [302, 302, 429]
    assert Grant.objects.count() == 2


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.fixed_dictionaries(
        {name: st.text(max_size=300) for name in ["name", "email", "course", "statement"]}
    ),
    course_param=st.text(max_size=200),
)
@example(
    fields={"name": "\x00", "email": "a\x00@example.com", "course": "\x00", "statement": "\x00"},
    course_param="cka\x00",
)
def test_hostile_input_never_breaks_the_apply_page(client, settings, fields, course_param):
    settings.GRANT_APPLY_RATE_PER_IP = settings.GRANT_APPLY_RATE_PER_EMAIL = "100000/h"

    shown = client.get(URL, {"course": course_param})
    posted = client.post(URL, fields)

    # A NUL character anywhere gets the site's 400 page (maaledu.middleware.RequestInputMiddleware).
    assert shown.status_code == (400 if "\x00" in course_param else 200)
    assert posted.status_code in (
        (400,) if any("\x00" in v for v in fields.values()) else (200, 302)
    )
