"""Disputes end the same whatever order Stripe delivers their events in, also when they arrive
before the payment's own events (real disputes carry none of the payment's metadata)."""

import itertools

import pytest
from django.test import Client
from django.urls import reverse

from affiliates.models import Commission
from affiliates.tests.factories import AffiliateFactory
from common.testing.concurrency import concurrent_database, race  # noqa: F401 - a fixture
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment, StripeEvent
from enrollments.tests.conftest import post_event
from enrollments.tests.test_refunds import buy

from .conftest import lms_action

pytestmark = pytest.mark.django_db


def closed_event(opened: dict, status: str) -> dict:
    event = dict(opened, id=f"{opened['id']}_{status}", type="charge.dispute.closed")
    event["data"] = {"object": dict(opened["data"]["object"], status=status)}
    return event


def dispute_state(enrollment):
    enrollment.refresh_from_db()
    commission = Commission.objects.get(sale_id=enrollment.pk)
    return (
        enrollment.status,
        enrollment.dispute_status,
        lms_action(enrollment),
        commission.on_hold,
        commission.status,
    )


WON = ("paid", "won", "enrol", False, Commission.Status.PENDING)
LOST = ("refunded", "lost", "unenrol", False, Commission.Status.REVERSED)


@pytest.mark.parametrize(("closing", "expected"), [("won", WON), ("lost", LOST)])
def test_a_closing_delivered_before_the_opening_ends_as_in_order(
    client, fake_stripe, closing, expected
):
    enrollment = buy(client, fake_stripe)
    opened = fake_stripe.event_for_dispute(next(iter(fake_stripe.charges)))

    post_event(client, closed_event(opened, closing))
    post_event(client, opened)

    assert dispute_state(enrollment) == expected
    assert not StripeEvent.objects.exclude(outcome=StripeEvent.Outcome.PROCESSED).exists()


def _checkout_paid_at_stripe(client, fake_stripe):
    """A checkout the learner paid at Stripe, none of whose payment events arrived yet."""
    course = CourseFactory(price_cents=10000)
    affiliate = AffiliateFactory(rate_percent=10)
    client.get(course.get_absolute_url(), {"ref": affiliate.referral_code})
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "b@example.com"})
    enrollment = Enrollment.objects.get(course=course)
    fake_stripe.complete_session(enrollment.stripe_session_id)
    return enrollment, fake_stripe.event_for_session(enrollment.stripe_session_id)


@pytest.mark.parametrize(("closing", "expected"), [("won", WON), ("lost", LOST)])
def test_dispute_events_arriving_before_the_payment_events_apply_once_it_is_paid(
    client, fake_stripe, closing, expected
):
    enrollment, completed = _checkout_paid_at_stripe(client, fake_stripe)
    opened = fake_stripe.event_for_dispute(next(iter(fake_stripe.charges)))
    assert opened["data"]["object"]["metadata"] == {}  # as real disputes: no enrollment id

    assert post_event(client, opened).json() == {"status": "opened"}
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.dispute_status) == ("pending", "open")

    post_event(client, completed)
    assert dispute_state(enrollment) == (
        "paid",
        "open",
        "suspend",
        True,
        Commission.Status.PENDING,
    )

    post_event(client, closed_event(opened, closing))
    assert dispute_state(enrollment) == expected


def test_a_dispute_overtaking_the_payment_does_not_tell_the_learner_staff_check_it(
    client, fake_stripe
):
    """The dispute flags the still-pending checkout for staff, but its payment is applied when
    the payment's event arrives: the learner's page keeps following it, no review is shown."""
    enrollment, _completed = _checkout_paid_at_stripe(client, fake_stripe)
    post_event(client, fake_stripe.event_for_dispute(next(iter(fake_stripe.charges))))

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.needs_review) == ("pending", True)
    assert not enrollment.awaits_staff_review
    assert not enrollment.is_settled


@pytest.mark.parametrize("closing", ["won", "lost"])
def test_every_delivery_order_of_payment_and_dispute_events_ends_the_same(
    client, fake_stripe, closing
):
    """The payment, the opening and the closing, in all six orders: one end state."""
    end_states = set()
    for order in itertools.permutations(["completed", "opened", "closed"]):
        enrollment, completed = _checkout_paid_at_stripe(client, fake_stripe)
        charge_id = list(fake_stripe.charges)[-1]
        opened = fake_stripe.event_for_dispute(charge_id)
        events = {
            "completed": completed,
            "opened": opened,
            "closed": closed_event(opened, closing),
        }
        for name in order:
            assert post_event(client, events[name]).status_code == 200, (order, name)
        end_states.add(dispute_state(enrollment))

    assert end_states == {WON if closing == "won" else LOST}


def test_a_dispute_stripe_cannot_be_asked_about_fails_and_its_retry_applies_it(client, fake_stripe):
    enrollment, _completed = _checkout_paid_at_stripe(client, fake_stripe)
    opened = fake_stripe.event_for_dispute(next(iter(fake_stripe.charges)))
    fake_stripe.fail_next(status=500, count=3, path_prefix="/v1/payment_intents")

    first = post_event(client, opened)

    assert first.status_code == 500  # nothing applied: Stripe delivers it again
    assert StripeEvent.objects.get().outcome == StripeEvent.Outcome.FAILED
    enrollment.refresh_from_db()
    assert enrollment.dispute_status == ""

    assert post_event(client, opened).json() == {"status": "opened"}
    assert StripeEvent.objects.get().outcome == StripeEvent.Outcome.PROCESSED


def test_a_dispute_on_a_payment_that_is_not_ours_is_recorded_as_unknown(client, fake_stripe):
    enrollment, _completed = _checkout_paid_at_stripe(client, fake_stripe)
    charge = fake_stripe.charges[next(iter(fake_stripe.charges))]
    charge["metadata"].clear()
    fake_stripe.payment_intents[charge["payment_intent"]]["metadata"].clear()

    response = post_event(client, fake_stripe.event_for_dispute(charge["id"]))

    assert response.json() == {"status": "unknown_charge"}
    enrollment.refresh_from_db()
    assert enrollment.dispute_status == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("concurrent_database")
@pytest.mark.parametrize("closing", ["won", "lost"])
def test_opening_and_closing_delivered_at_the_same_moment_end_as_in_order(fake_stripe, closing):
    enrollment = buy(Client(), fake_stripe)
    opened = fake_stripe.event_for_dispute(next(iter(fake_stripe.charges)))
    payloads = [opened, closed_event(opened, closing)] * 4
    statuses = race(lambda event: post_event(Client(), event).status_code, args=payloads)

    assert statuses == [200] * len(payloads)
    assert dispute_state(enrollment) == (WON if closing == "won" else LOST)


def test_a_retried_payment_event_applies_a_dispute_an_interrupted_fulfilment_left_unapplied(
    client, fake_stripe
):
    """The dispute overtook the payment; the first fulfilment committed ``paid`` and then died
    before applying it. Stripe's retry of the payment event must finish the job: the dispute
    event itself is done and will not come again."""
    from django.db import transaction

    from enrollments.services.fulfilment import _mark_paid

    enrollment, completed = _checkout_paid_at_stripe(client, fake_stripe)
    opened = fake_stripe.event_for_dispute(next(iter(fake_stripe.charges)))
    post_event(client, opened)
    session = completed["data"]["object"]
    with transaction.atomic():  # the first fulfilment's committed step, alone
        assert _mark_paid(enrollment, session=session)

    assert post_event(client, completed).status_code == 200

    assert dispute_state(enrollment) == (
        "paid",
        "open",
        "suspend",
        True,
        Commission.Status.PENDING,
    )


def test_a_retried_opening_flags_a_dispute_an_interrupted_first_run_only_opened(
    client, fake_stripe
):
    """The first run committed ``open`` and died before flagging the enrollment for staff;
    Stripe's retry of the same event flags it (the alert e-mail has its own sweep)."""
    enrollment = buy(client, fake_stripe)
    opened = fake_stripe.event_for_dispute(next(iter(fake_stripe.charges)))
    Enrollment.objects.filter(pk=enrollment.pk).update(dispute_status="open")  # first run, alone

    assert post_event(client, opened).status_code == 200

    enrollment.refresh_from_db()
    assert enrollment.needs_review
    assert enrollment.review_reason.startswith(f"Dispute {opened['data']['object']['id']} opened")
