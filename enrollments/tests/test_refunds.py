"""One refund policy: staff refunds from the admin and refunds from Stripe end the same way."""

import pytest
import requests
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import StaffFactory, UserFactory
from affiliates.models import Commission
from affiliates.tests.factories import AffiliateFactory
from common.testing.concurrency import RunBefore, concurrent_database, race  # noqa: F401 - a fixture
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment, RefundRequest
from enrollments.tests.conftest import post_event
from grants.models import Grant
from grants.tests.factories import GrantFactory

from .conftest import lms_action

pytestmark = pytest.mark.django_db


def buy(client, fake_stripe, *, price=10000, referred=True, email="buyer@example.com"):
    """A paid enrollment (via the real checkout + webhook), referred by a 10% affiliate."""
    course = CourseFactory(price_cents=price)
    if referred:
        affiliate = AffiliateFactory(rate_percent=10)
        client.get(course.get_absolute_url(), {"ref": affiliate.referral_code})
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": email})
    enrollment = Enrollment.objects.get(course=course)
    fake_stripe.complete_session(enrollment.stripe_session_id)
    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID
    return enrollment


def refund_url(enrollment):
    return reverse("admin:enrollments_enrollment_refund", args=[enrollment.pk])


def staff_refund(staff_client, enrollment, amount, *, revoke=False, restore=False, confirm=True):
    """Preview, then (``confirm``) submit the confirmation form the preview rendered."""
    data = {"amount": amount, "reason": "Learner asked"}
    if revoke:
        data["revoke_access"] = "on"
    if restore:
        data["restore_coupon"] = "on"
    preview = staff_client.post(refund_url(enrollment), data)
    if not confirm or "Confirm refund" not in preview.text:
        return preview
    total = preview.text.split('name="confirmed_total_cents" value="')[1].split('"')[0]
    return staff_client.post(refund_url(enrollment), {**data, "confirmed_total_cents": total})


def stripe_refund(fake_stripe, enrollment, amount=None):
    """A refund made in Stripe's dashboard: only the event tells us."""
    data = {"payment_intent": enrollment.stripe_payment_intent_id}
    if amount is not None:
        data["amount"] = amount
    response = requests.post(
        f"{fake_stripe.url}/v1/refunds",
        data=data,
        timeout=5,
        headers={"Authorization": "Bearer sk_test_maaledu"},
    )
    assert response.status_code == 200, response.text
    return fake_stripe.event_for_charge(response.json()["charge"])


def end_state(enrollment):
    enrollment.refresh_from_db()
    commission = Commission.objects.filter(sale_id=enrollment.pk).first()
    return (
        enrollment.status,
        enrollment.amount_refunded_cents,
        lms_action(enrollment),
        commission and (commission.reversed_cents, commission.status),
    )


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(StaffFactory())
    return client


def test_preview_shows_exactly_what_a_partial_refund_will_do_and_changes_nothing(
    client, fake_stripe, staff_client
):
    enrollment = buy(client, fake_stripe)

    response = staff_refund(staff_client, enrollment, "25.00", confirm=False)

    assert response.status_code == 200
    preview = response.text
    assert "$25.00" in preview and "a partial refund" in preview
    assert "LMS access: <strong>kept</strong>" in preview
    assert "$2.50 reversed" in preview  # 10% commission on a quarter of the sale
    assert "Confirm refund" in preview
    assert RefundRequest.objects.count() == 0
    assert not [r for r in fake_stripe.requests if r.path == "/v1/refunds"]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("100.00", ("refunded", 10000, "unenrol", (1000, "reversed"))),
        ("25.00", ("paid", 2500, "enrol", (250, "pending"))),
    ],
)
def test_admin_and_webhook_refunds_end_in_identical_states(
    client, fake_stripe, staff_client, amount, expected
):
    from_admin = buy(client, fake_stripe, email="a@example.com")
    from_stripe = buy(client, fake_stripe, email="b@example.com")

    staff_refund(staff_client, from_admin, amount)
    cents = int(amount.replace(".", ""))
    post_event(client, stripe_refund(fake_stripe, from_stripe, cents))
    # Stripe's event about the admin refund arrives too, and changes nothing.
    charge_id = fake_stripe.payment_intents[from_admin.stripe_payment_intent_id]["latest_charge"]
    post_event(client, fake_stripe.event_for_charge(charge_id))

    assert end_state(from_admin) == end_state(from_stripe) == expected
    [call] = [
        r
        for r in fake_stripe.requests
        if r.path == "/v1/refunds" and r.method == "POST" and r.idempotency_key
    ]
    assert call.params["amount"] == str(cents)
    assert call.idempotency_key == f"enrollment-{from_admin.pk}-refund-to-{cents}"


def test_a_refund_confirmed_twice_refunds_once(client, fake_stripe, staff_client):
    enrollment = buy(client, fake_stripe)
    data = {"amount": "40.00", "reason": "Learner asked", "confirmed_total_cents": "4000"}

    first = staff_client.post(refund_url(enrollment), data)
    second = staff_client.post(refund_url(enrollment), data, follow=True)  # back + confirm again

    assert first.status_code == 302
    assert "already made" in second.text
    assert RefundRequest.objects.count() == 1
    assert next(iter(fake_stripe.charges.values()))["amount_refunded"] == 4000
    assert end_state(enrollment)[:2] == ("paid", 4000)


def test_two_deliberate_partial_refunds_add_up(client, fake_stripe, staff_client):
    enrollment = buy(client, fake_stripe)

    staff_refund(staff_client, enrollment, "40.00")
    staff_refund(staff_client, enrollment, "60.00")

    assert end_state(enrollment) == ("refunded", 10000, "unenrol", (1000, "reversed"))


def test_replayed_refund_events_change_nothing_further(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    enrollment = buy(client, fake_stripe)
    event = stripe_refund(fake_stripe, enrollment, 5000)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            post_event(client, event)
        replayed = dict(event, id="evt_replay_with_new_id")
        post_event(client, replayed)

    assert end_state(enrollment) == ("paid", 5000, "enrol", (500, "pending"))
    refund_mails = [m for m in mail.outbox if "refund" in m.subject.lower()]
    assert len(refund_mails) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("concurrent_database")
def test_concurrent_deliveries_of_a_full_refund_apply_it_once(fake_stripe):
    enrollment = buy(Client(), fake_stripe)
    event = stripe_refund(fake_stripe, enrollment)

    def deliver(n):
        return post_event(Client(), dict(event, id=f"evt_refund_{n % 3}")).status_code

    assert set(race(deliver, args=range(8))) == {200}

    assert end_state(enrollment) == ("refunded", 10000, "unenrol", (1000, "reversed"))
    assert len([m for m in mail.outbox if "refund" in m.subject.lower()]) == 1


def test_partial_refund_with_revoke_chosen_by_staff_closes_access(
    client, fake_stripe, staff_client
):
    enrollment = buy(client, fake_stripe)

    staff_refund(staff_client, enrollment, "10.00", revoke=True)

    assert end_state(enrollment) == ("refunded", 1000, "unenrol", (100, "pending"))


def test_refund_of_a_full_grant_revokes_access_with_nothing_to_return(staff_client, client):
    grant = GrantFactory(approved=True, email="ada@example.com", discount_percent=100)
    client.force_login(UserFactory(email="ada@example.com"))
    client.post(
        reverse("enrollments:checkout", args=[grant.course.slug]),
        {"email": "x", "coupon": grant.coupon_code},
    )
    enrollment = Enrollment.objects.get()

    preview = staff_refund(staff_client, enrollment, "0", confirm=False)
    staff_refund(staff_client, enrollment, "0", restore=True)

    assert "nothing: this enrollment was free" in preview.text
    enrollment.refresh_from_db()
    assert (enrollment.status, lms_action(enrollment)) == ("refunded", "unenrol")
    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.AVAILABLE


@pytest.mark.parametrize(
    ("amount", "message"), [("0", "between"), ("100.01", "between"), ("-5", "greater than")]
)
def test_refund_outside_what_was_paid_is_refused_and_changes_nothing(
    client, fake_stripe, staff_client, amount, message
):
    enrollment = buy(client, fake_stripe)

    response = staff_refund(staff_client, enrollment, amount)

    assert message in response.text
    assert end_state(enrollment) == ("paid", 0, "enrol", (0, "pending"))


def test_stripe_refusing_the_refund_leaves_everything_as_it_was(client, fake_stripe, staff_client):
    enrollment = buy(client, fake_stripe)
    fake_stripe.fail_next(status=400, error_type="invalid_request_error", path_prefix="/v1/refunds")

    response = staff_refund(staff_client, enrollment, "30.00")

    assert "Stripe did not accept the refund" in response.text
    assert RefundRequest.objects.count() == 0
    assert end_state(enrollment) == ("paid", 0, "enrol", (0, "pending"))


def test_only_staff_reach_the_refund_page(client, fake_stripe):
    enrollment = buy(client, fake_stripe)
    learner = Client()
    learner.force_login(UserFactory())

    response = learner.get(refund_url(enrollment))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_dispute_suspends_access_and_holds_the_commission_until_won(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    enrollment = buy(client, fake_stripe)
    charge_id = next(iter(fake_stripe.charges))
    opened = fake_stripe.event_for_dispute(charge_id)

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, opened)

    enrollment.refresh_from_db()
    commission = Commission.objects.get()
    assert (enrollment.dispute_status, lms_action(enrollment)) == ("open", "suspend")
    assert commission.on_hold and enrollment.needs_review
    assert any("dispute" in m.subject.lower() for m in mail.outbox)

    won = dict(opened, id="evt_dispute_won", type="charge.dispute.closed")
    won["data"] = {"object": dict(opened["data"]["object"], status="won")}
    post_event(client, won)

    enrollment.refresh_from_db()
    commission.refresh_from_db()
    assert (enrollment.status, enrollment.dispute_status, lms_action(enrollment)) == (
        "paid",
        "won",
        "enrol",
    )
    assert not commission.on_hold


def test_lost_dispute_ends_like_a_full_refund(client, fake_stripe):
    enrollment = buy(client, fake_stripe)
    charge_id = next(iter(fake_stripe.charges))
    opened = fake_stripe.event_for_dispute(charge_id)
    post_event(client, opened)

    lost = dict(opened, id="evt_dispute_lost", type="charge.dispute.closed")
    lost["data"] = {"object": dict(opened["data"]["object"], status="lost")}
    post_event(client, lost)

    enrollment.refresh_from_db()
    commission = Commission.objects.get()
    assert (enrollment.status, enrollment.dispute_status) == ("refunded", "lost")
    assert commission.status == Commission.Status.REVERSED


@pytest.mark.parametrize(
    ("status", "expected"), [("warning_closed", "won"), ("charge_refunded", "open")]
)
def test_other_dispute_closings_restore_access_or_wait_for_the_refund_event(
    client, fake_stripe, status, expected
):
    enrollment = buy(client, fake_stripe)
    opened = fake_stripe.event_for_dispute(next(iter(fake_stripe.charges)))
    post_event(client, opened)

    closed = dict(opened, id=f"evt_dispute_{status}", type="charge.dispute.closed")
    closed["data"] = {"object": dict(opened["data"]["object"], status=status)}
    post_event(client, closed)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.dispute_status) == ("paid", expected)


def test_a_refund_recorded_while_the_payment_is_being_fulfilled_still_revokes_access(
    client, fake_stripe
):
    """Fulfilment commits between the refund event's arrival and its write: the refund must
    still see the enrollment paid and revoke access."""
    from enrollments.services import fulfilment, refunds

    course = CourseFactory(price_cents=10000)
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "r@example.com"})
    enrollment = Enrollment.objects.get()
    fake_stripe.complete_session(enrollment.stripe_session_id)
    session = fake_stripe.sessions[enrollment.stripe_session_id]
    fulfilled = []

    # Fulfilment commits just before the refund's write (the first UPDATE that records it).
    with RunBefore(
        "django.db.models.QuerySet.update",
        lambda queryset, **fields: fulfilled.append(fulfilment.fulfil_checkout_session(session)),
        when=lambda queryset, **fields: "amount_refunded_cents" in fields,
        once=True,
    ):
        refunds.apply_refund(enrollment_id=enrollment.pk, refunded_cents=10000)

    assert fulfilled == ["fulfilled"]
    enrollment.refresh_from_db()
    assert (enrollment.status, lms_action(enrollment)) == ("refunded", "unenrol")


def test_replacing_a_checkout_in_its_last_minutes_expires_its_stripe_session(
    client, fake_stripe, settings
):
    from datetime import timedelta

    from django.utils import timezone

    course = CourseFactory()
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "a@example.com"})
    first = Enrollment.objects.get()
    Enrollment.objects.update(expires_at=timezone.now() + timedelta(minutes=2))

    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "a@example.com"})

    assert fake_stripe.sessions[first.stripe_session_id]["status"] == "expired"
    assert Enrollment.objects.filter(status="pending").exclude(pk=first.pk).count() == 1


def test_stripe_down_while_replacing_a_checkout_gives_the_friendly_error_page(client, fake_stripe):
    grant = GrantFactory(approved=True, email="ada@example.com", discount_percent=50)
    client.force_login(UserFactory(email="ada@example.com"))
    client.post(reverse("enrollments:checkout", args=[grant.course.slug]), {"email": "x"})
    fake_stripe.offline = True

    response = client.post(
        reverse("enrollments:checkout", args=[grant.course.slug]),
        {"email": "x", "coupon": grant.coupon_code},
    )

    assert response.status_code == 503
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_a_staff_refund_stripe_did_not_answer_can_be_confirmed_again_safely(
    client, fake_stripe, staff_client
):
    enrollment = buy(client, fake_stripe)
    fake_stripe.fail_next(status=500, count=3, path_prefix="/v1/refunds")

    first = staff_refund(staff_client, enrollment, "30.00")
    second = staff_refund(staff_client, enrollment, "30.00")

    assert "may or may not have been made" in first.text
    assert second.status_code == 302
    assert RefundRequest.objects.count() == 1
    assert end_state(enrollment)[:2] == ("paid", 3000)
    assert next(iter(fake_stripe.charges.values()))["amount_refunded"] == 3000


def test_confirming_a_preview_after_the_enrollment_changed_refunds_nothing(
    client, fake_stripe, staff_client
):
    enrollment = buy(client, fake_stripe)
    preview = staff_client.post(refund_url(enrollment), {"amount": "30.00", "reason": "x"})
    total = preview.text.split('name="confirmed_total_cents" value="')[1].split('"')[0]
    post_event(client, stripe_refund(fake_stripe, enrollment, 1000))  # refunded in Stripe meanwhile

    response = staff_client.post(
        refund_url(enrollment), {"amount": "30.00", "reason": "x", "confirmed_total_cents": total}
    )

    assert "changed since the preview" in response.text
    assert RefundRequest.objects.count() == 0
    assert end_state(enrollment)[:2] == ("paid", 1000)


def test_a_retried_payment_event_applies_a_refund_an_interrupted_fulfilment_left_unapplied(
    client, fake_stripe
):
    """A full refund overtook the payment; the first fulfilment committed ``paid`` and died
    before applying it. Stripe's retry of the payment event revokes access."""
    from django.db import transaction

    from enrollments.services import fulfilment, refunds

    course = CourseFactory(price_cents=10000)
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "r@example.com"})
    enrollment = Enrollment.objects.get()
    fake_stripe.complete_session(enrollment.stripe_session_id)
    completed = fake_stripe.event_for_session(enrollment.stripe_session_id)
    refunds.apply_refund(enrollment_id=enrollment.pk, refunded_cents=10000)  # before payment
    with transaction.atomic():  # the first fulfilment's committed step, alone
        assert fulfilment._mark_paid(enrollment, session=completed["data"]["object"])

    assert post_event(client, completed).status_code == 200

    enrollment.refresh_from_db()
    assert (enrollment.status, lms_action(enrollment)) == ("refunded", "unenrol")


def test_a_refund_recorded_between_the_fulfilments_read_and_its_update_is_applied(
    client, fake_stripe, monkeypatch
):
    """The payment's update only applies over the refund it read; a refund landing after that
    read (whose own status read still saw the checkout pending) makes it read again, so the
    full refund revokes access and reverses the commission at fulfilment."""
    from enrollments.services import fulfilment, refunds

    course = CourseFactory(price_cents=10000)
    affiliate = AffiliateFactory(rate_percent=10)
    client.get(course.get_absolute_url(), {"ref": affiliate.referral_code})
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "r@example.com"})
    enrollment = Enrollment.objects.get()
    fake_stripe.complete_session(enrollment.stripe_session_id)
    read = fulfilment._enrollment_for_session

    def read_then_refund(session):
        found = read(session)
        assert refunds.apply_refund(enrollment_id=found.pk, refunded_cents=10000) == "unchanged"
        return found

    monkeypatch.setattr(fulfilment, "_enrollment_for_session", read_then_refund)
    response = post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))

    assert response.json() == {"status": "fulfilled"}
    assert end_state(enrollment) == ("refunded", 10000, "unenrol", (1000, "reversed"))
