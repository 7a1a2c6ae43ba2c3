import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from enrollments.tests.conftest import post_event
from enrollments.tests.factories import EnrollmentFactory
from lms_sync.models import LmsSyncJob

pytestmark = pytest.mark.django_db

SUCCESS = reverse("enrollments:checkout_success")


def status_fragment(enrollment):
    return reverse("enrollments:enrollment_status_fragment", args=[enrollment.pk])


def start_checkout(client, course, email="ada@example.com"):
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": email})
    return Enrollment.objects.get(email=email, course=course)


def test_success_page_fulfils_a_paid_session_whose_webhook_is_late(client, fake_stripe):
    enrollment = start_checkout(client, CourseFactory())
    fake_stripe.complete_session(enrollment.stripe_session_id)

    response = client.get(SUCCESS, {"session_id": enrollment.stripe_session_id})

    enrollment.refresh_from_db()
    assert response.status_code == 200
    assert enrollment.status == Enrollment.Status.PAID
    assert "Paid" in response.text and "Enrolling" in response.text


def test_success_page_shows_confirming_and_polls_until_settled(client, fake_stripe):
    enrollment = start_checkout(client, CourseFactory())

    response = client.get(SUCCESS, {"session_id": enrollment.stripe_session_id})

    assert "Confirming" in response.text
    assert 'hx-trigger="every 3s"' in response.text
    # The poll reads our database only: the webhook is what moves the enrollment.
    fake_stripe.complete_session(enrollment.stripe_session_id)
    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))
    update = client.get(status_fragment(enrollment))
    assert "Paid" in update.text and "Enrolling" in update.text
    # The enrol job is synced (created by lms_sync's receiver where the payment's after-commit
    # work ran at once, as on MongoDB; here if it did not).
    LmsSyncJob.objects.update_or_create(
        enrollment=enrollment,
        action=LmsSyncJob.Action.ENROL,
        defaults={"status": LmsSyncJob.Status.SYNCED},
    )
    settled = client.get(status_fragment(enrollment))
    assert "Ready" in settled.text and "hx-trigger" not in settled.text


def test_success_page_of_an_unpaid_bank_payment_explains_the_wait(client, fake_stripe):
    enrollment = start_checkout(client, CourseFactory())
    fake_stripe.complete_session(enrollment.stripe_session_id, payment_status="unpaid")

    response = client.get(SUCCESS, {"session_id": enrollment.stripe_session_id})

    assert "Your bank is processing the payment" in response.text
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_success_page_never_shows_another_visitors_session(client, fake_stripe):
    from django.test import Client

    enrollment = start_checkout(client, CourseFactory())
    stranger = Client()

    assert stranger.get(SUCCESS, {"session_id": enrollment.stripe_session_id}).status_code == 404
    assert stranger.get(status_fragment(enrollment)).status_code == 404
    status_page = reverse("enrollments:enrollment_status", args=[enrollment.pk])
    assert stranger.get(status_page).status_code == 404
    assert client.get(SUCCESS, {"session_id": "cs_test_unknown"}).status_code == 404
    assert client.get(SUCCESS).status_code == 404


def test_owner_can_open_their_success_page_from_another_browser_when_logged_in(client, fake_stripe):
    user = UserFactory(email="ada@example.com")
    enrollment = EnrollmentFactory(email="ada@example.com", paid=True)
    client.force_login(user)

    response = client.get(SUCCESS, {"session_id": enrollment.stripe_session_id})

    assert response.status_code == 200


def test_my_courses_lists_paid_enrollments_of_the_verified_email_only(client):
    user = UserFactory(email="ada@example.com")
    mine = EnrollmentFactory(email="ada@example.com", paid=True, course__title="Mine, paid")
    EnrollmentFactory(
        email="ada@example.com", status=Enrollment.Status.PENDING, course__title="Mine, unpaid"
    )
    EnrollmentFactory(email="bob@example.com", paid=True, course__title="Bobs course")
    client.force_login(user)

    response = client.get(reverse("enrollments:my_courses"))

    assert mine.course.title in response.text
    assert "Mine, unpaid" not in response.text
    assert "Bobs course" not in response.text


def test_my_courses_shows_access_paused_during_a_dispute_not_ready(client, settings):
    settings.FRAPPE_PUBLIC_URL = "https://lms.example.com"
    user = UserFactory(email="ada@example.com")
    enrollment = EnrollmentFactory(
        email="ada@example.com",
        paid=True,
        dispute_status=Enrollment.Dispute.OPEN,
        course__title="Disputed course",
    )
    LmsSyncJob.objects.create(
        enrollment=enrollment, status=LmsSyncJob.Status.SUPERSEDED, progress=60.0
    )
    LmsSyncJob.objects.create(
        enrollment=enrollment,
        action=LmsSyncJob.Action.SUSPEND,
        status=LmsSyncJob.Status.SYNCED,
    )
    client.force_login(user)

    response = client.get(reverse("enrollments:my_courses"))

    assert "Disputed course" in response.text
    assert "Access is paused while your bank reviews a dispute" in response.text
    assert "Your progress is kept" in response.text
    assert "Ready" not in response.text
    assert "Start learning" not in response.text


def test_my_courses_asks_an_unverified_learner_to_verify(client):
    user = UserFactory(email="ada@example.com", verified=False)
    EnrollmentFactory(
        email="ada@example.com",
        paid=True,
        course__title="Hidden until verified",
    )
    client.force_login(user)

    response = client.get(reverse("enrollments:my_courses"))

    assert "Verify your e-mail" in response.text
    assert "Hidden until verified" not in response.text


def test_my_courses_requires_login(client):
    response = client.get(reverse("enrollments:my_courses"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("count", [1, 30])
def test_my_courses_runs_a_bounded_number_of_queries(client, django_assert_max_num_queries, count):
    user = UserFactory(email="ada@example.com")
    for _ in range(count):
        enrollment = EnrollmentFactory(email="ada@example.com", paid=True)
        LmsSyncJob.objects.create(enrollment=enrollment, status=LmsSyncJob.Status.SYNCED)
    client.force_login(user)

    # session, user, verified e-mail, enrollments, their LMS jobs (lms_sync's template tag)
    with django_assert_max_num_queries(5):
        response = client.get(reverse("enrollments:my_courses"))

    assert response.status_code == 200


def test_course_page_links_to_checkout(client):
    course = CourseFactory()
    response = client.get(course.get_absolute_url())
    assert reverse("enrollments:checkout", args=[course.slug]) in response.text
