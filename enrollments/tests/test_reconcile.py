from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment

pytestmark = pytest.mark.django_db


def test_reconcile_fulfils_a_session_whose_webhook_never_arrived_and_is_a_noop_on_rerun(
    client, fake_stripe
):
    course = CourseFactory()
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "ada@example.com"})
    paid = Enrollment.objects.get()
    fake_stripe.complete_session(paid.stripe_session_id)
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "bob@example.com"})

    first, second = StringIO(), StringIO()
    call_command("reconcile_stripe", "--since", "48h", stdout=first)
    call_command("reconcile_stripe", "--since", "48h", stdout=second)

    paid.refresh_from_db()
    assert paid.status == Enrollment.Status.PAID
    assert Enrollment.objects.get(email="bob@example.com").status == Enrollment.Status.PENDING
    assert f"{paid.stripe_session_id}: fulfilled" in first.getvalue()
    assert "Fulfilled 1 missed checkout(s)" in first.getvalue()
    assert "Fulfilled 0 missed checkout(s)" in second.getvalue()


def test_reconcile_pages_through_many_sessions(client, fake_stripe):
    course = CourseFactory()
    for n in range(105):
        client.post(
            reverse("enrollments:checkout", args=[course.slug]),
            {"email": f"learner{n}@example.com"},
        )
    for session_id in list(fake_stripe.sessions):
        fake_stripe.complete_session(session_id)

    call_command("reconcile_stripe", "--since", "1h", stdout=StringIO())

    assert Enrollment.objects.filter(status=Enrollment.Status.PAID).count() == 105


def test_reconcile_rejects_a_malformed_window_and_reports_stripe_outages(settings):
    with pytest.raises(CommandError, match="duration"):
        call_command("reconcile_stripe", "--since", "yesterday")
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    with pytest.raises(CommandError, match="Stripe could not be asked"):
        call_command("reconcile_stripe", "--since", "1h")
