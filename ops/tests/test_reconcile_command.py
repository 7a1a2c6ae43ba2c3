"""``manage.py reconcile`` is the one Stripe session reconciliation (it replaced
``reconcile_stripe``): a paid Checkout Session whose webhook never arrived is fulfilled, once."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from ops.management.commands.reconcile import parse_since

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
    call_command("reconcile", "--since", "48h", stdout=first)
    call_command("reconcile", "--since", "48h", stdout=second)

    paid.refresh_from_db()
    assert paid.status == Enrollment.Status.PAID
    assert Enrollment.objects.get(email="bob@example.com").status == Enrollment.Status.PENDING
    assert "missed_fulfilment" in first.getvalue()
    assert f"enrollment {paid.pk}" in first.getvalue()
    assert "repaired: Paid at Stripe, not fulfilled here." in first.getvalue()
    assert "1 finding(s), 0 not repaired" in first.getvalue()
    assert "0 finding(s)" in second.getvalue()


def test_reconcile_pages_through_many_sessions(client, fake_stripe):
    course = CourseFactory()
    for n in range(105):
        client.post(
            reverse("enrollments:checkout", args=[course.slug]),
            {"email": f"learner{n}@example.com"},
        )
    for session_id in list(fake_stripe.sessions):
        fake_stripe.complete_session(session_id)

    call_command("reconcile", "--since", "1h", stdout=StringIO())

    assert Enrollment.objects.filter(status=Enrollment.Status.PAID).count() == 105


def test_reconcile_rejects_a_malformed_window_and_reports_stripe_outages(settings):
    with pytest.raises(CommandError, match="duration"):
        call_command("reconcile", "--since", "yesterday")
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    with pytest.raises(CommandError, match="Stripe could not be asked"):
        call_command("reconcile", "--since", "1h")


def test_the_window_is_a_duration_back_from_now_or_a_date():
    now = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)

    assert parse_since("30m", now=now) == datetime(2026, 12, 7, 12, 30, tzinfo=UTC)
    assert parse_since("48h", now=now) == datetime(2026, 12, 5, 13, 0, tzinfo=UTC)
    assert parse_since("7d", now=now) == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    assert parse_since("2026-12-01", now=now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_since("2026-12-01T08:30", now=now) == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert parse_since("2026-12-01T08:30+02:00", now=now) == datetime(
        2026, 12, 1, 6, 30, tzinfo=UTC
    )
