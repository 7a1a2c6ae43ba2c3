"""No side effects on a poll: the status fragment that htmx polls every 3 s reads our database
only; the success page asks Stripe about a pending checkout at most once per enrollment per
``STRIPE_REFRESH_COOLDOWN_SECONDS``, and the webhook still completes the order. The calls are
counted at the fake Stripe server (the real SDK talks to it over HTTP)."""

import time
from http.cookies import SimpleCookie

import pytest
from django.test import Client
from django.urls import reverse

from common.testing.concurrency import race
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment

from .conftest import post_event

pytestmark = pytest.mark.django_db

SUCCESS = reverse("enrollments:checkout_success")


def start_checkout(client, email="ada@example.com") -> Enrollment:
    course = CourseFactory()
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": email})
    return Enrollment.objects.get(email=email, course=course)


def session_lookups(fake_stripe, enrollment) -> int:
    """How many times Stripe was asked about this checkout's session."""
    path = f"/v1/checkout/sessions/{enrollment.stripe_session_id}"
    return sum(1 for r in fake_stripe.requests if r.method == "GET" and r.path == path)


def fragment(enrollment) -> str:
    return reverse("enrollments:enrollment_status_fragment", args=[enrollment.pk])


def test_polling_a_pending_bank_payment_never_calls_stripe(client, fake_stripe):
    enrollment = start_checkout(client)
    # ACH: the checkout is complete at Stripe, the money is not there yet (days, for real).
    fake_stripe.complete_session(enrollment.stripe_session_id, payment_status="unpaid")
    before = len(fake_stripe.requests)

    polls = [client.get(fragment(enrollment)) for _ in range(20)]

    assert {poll.status_code for poll in polls} == {200}
    assert all('hx-trigger="every 3s"' in poll.text for poll in polls)
    assert len(fake_stripe.requests) == before  # no Stripe call of any kind
    assert session_lookups(fake_stripe, enrollment) == 0


def test_polls_show_the_order_the_webhook_completed_without_asking_stripe(client, fake_stripe):
    enrollment = start_checkout(client)
    fake_stripe.complete_session(enrollment.stripe_session_id)
    assert "Confirming" in client.get(fragment(enrollment)).text

    response = post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))
    update = client.get(fragment(enrollment))

    assert response.status_code == 200
    assert "Paid" in update.text and "Enrolling" in update.text
    assert Enrollment.objects.get(pk=enrollment.pk).status == Enrollment.Status.PAID
    assert session_lookups(fake_stripe, enrollment) == 0


def test_the_success_page_asks_stripe_once_per_cooldown(client, fake_stripe, settings):
    settings.STRIPE_REFRESH_COOLDOWN_SECONDS = 1
    enrollment = start_checkout(client)
    fake_stripe.complete_session(enrollment.stripe_session_id, payment_status="unpaid")
    success = {"session_id": enrollment.stripe_session_id}
    status_page = reverse("enrollments:enrollment_status", args=[enrollment.pk])

    first = client.get(SUCCESS, success)
    again = client.get(SUCCESS, success)
    other_tab = client.get(status_page)
    within_cooldown = session_lookups(fake_stripe, enrollment)
    time.sleep(1.1)
    later = client.get(SUCCESS, success)

    assert [r.status_code for r in (first, again, other_tab, later)] == [200] * 4
    assert "Your bank is processing the payment" in again.text
    assert within_cooldown == 1
    assert session_lookups(fake_stripe, enrollment) == 2


def test_a_late_webhook_is_still_caught_by_the_success_page_once_the_cooldown_passed(
    client, fake_stripe, settings
):
    settings.STRIPE_REFRESH_COOLDOWN_SECONDS = 1
    enrollment = start_checkout(client)
    success = {"session_id": enrollment.stripe_session_id}
    assert "Confirming" in client.get(SUCCESS, success).text  # asked: still open
    fake_stripe.complete_session(enrollment.stripe_session_id)  # paid; the webhook is lost

    within_cooldown = client.get(SUCCESS, success)
    time.sleep(1.1)
    after_cooldown = client.get(SUCCESS, success)

    assert "Confirming" in within_cooldown.text
    assert "Paid" in after_cooldown.text
    assert Enrollment.objects.get(pk=enrollment.pk).status == Enrollment.Status.PAID
    assert session_lookups(fake_stripe, enrollment) == 2


@pytest.mark.django_db(transaction=True)
def test_success_pages_loaded_at_once_in_many_tabs_ask_stripe_once(client, fake_stripe, settings):
    settings.STRIPE_REFRESH_COOLDOWN_SECONDS = 60
    enrollment = start_checkout(client)
    fake_stripe.complete_session(enrollment.stripe_session_id, payment_status="unpaid")
    tabs = []
    for _ in range(6):  # other tabs of the same browser: the same session cookie
        tab = Client()
        tab.cookies = SimpleCookie({k: v.value for k, v in client.cookies.items()})
        tabs.append(tab)

    statuses = race(
        lambda tab: tab.get(SUCCESS, {"session_id": enrollment.stripe_session_id}).status_code,
        args=tabs,
    )

    assert statuses == [200] * 6
    assert session_lookups(fake_stripe, enrollment) == 1
