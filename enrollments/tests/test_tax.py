"""Stripe Tax: optional, inside our prices; Stripe's subtotal, tax and total are kept, the
amount check compares the price before any tax added on top, and affiliates earn on the amount
before tax (refunds reverse that commission in proportion, as before)."""

import pytest
import requests
from django.urls import reverse

from affiliates.cookies import REFERRAL_COOKIE
from affiliates.models import Commission
from affiliates.tests.factories import AffiliateFactory
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from enrollments.services import AMOUNT_MISMATCH, FULFILLED, fulfil_checkout_session
from enrollments.tests.conftest import fixture_event, post_event
from enrollments.tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_tax(settings, fake_stripe):
    """Stripe Tax on; the fake finds 20 % VAT for every buyer."""
    settings.STRIPE_AUTOMATIC_TAX = True
    fake_stripe.tax_rate_percent = 20
    return fake_stripe


def session_payload(enrollment, *, subtotal, tax, total):
    """The reference checkout.session.completed object, with Stripe Tax's figures."""
    session = fixture_event("checkout.session.completed")["data"]["object"]
    session.update(
        id=enrollment.stripe_session_id,
        client_reference_id=str(enrollment.pk),
        amount_subtotal=subtotal,
        amount_total=total,
        currency=enrollment.currency,
        invoice="in_1PgaftB7WZ01zgkWTaxInvo1",
    )
    session["total_details"] = {"amount_discount": 0, "amount_shipping": 0, "amount_tax": tax}
    return session


def buy(client, fake_stripe, course, *, referral=None):
    if referral is not None:
        client.get(course.get_absolute_url(), {"ref": referral.referral_code})
        assert REFERRAL_COOKIE in client.cookies
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "b@example.com"})
    enrollment = Enrollment.objects.get(course=course)
    fake_stripe.complete_session(enrollment.stripe_session_id)
    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))
    enrollment.refresh_from_db()
    return enrollment


def test_without_the_setting_checkout_asks_for_no_tax(client, fake_stripe):
    course = CourseFactory()
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "b@example.com"})

    create = next(r for r in fake_stripe.requests if r.path == "/v1/checkout/sessions")
    assert "automatic_tax" not in create.params
    assert "tax_id_collection" not in create.params
    assert "tax_behavior" not in create.params["line_items"][0]["price_data"]


def test_the_setting_turns_on_stripe_tax_and_tax_ids_on_tax_inclusive_prices(client, stripe_tax):
    course = CourseFactory()
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "b@example.com"})

    create = next(r for r in stripe_tax.requests if r.path == "/v1/checkout/sessions")
    assert create.params["automatic_tax"] == {"enabled": "true"}
    assert create.params["tax_id_collection"] == {"enabled": "true"}
    assert create.params["line_items"][0]["price_data"]["tax_behavior"] == "inclusive"


def test_a_taxed_payment_keeps_stripes_subtotal_tax_and_total(client, stripe_tax):
    enrollment = buy(client, stripe_tax, CourseFactory(price_cents=12000, currency="eur"))

    assert enrollment.status == Enrollment.Status.PAID
    # 120.00 incl. 20 % VAT: 20.00 of it is tax; the buyer paid the price shown.
    assert (enrollment.stripe_subtotal_cents, enrollment.tax_cents) == (12000, 2000)
    assert enrollment.stripe_total_cents == enrollment.amount_due_cents == 12000
    assert enrollment.amount_before_tax_cents == 10000


def test_the_commission_is_computed_on_the_amount_before_tax(client, stripe_tax):
    affiliate = AffiliateFactory(rate_percent=10)
    enrollment = buy(client, stripe_tax, CourseFactory(price_cents=12000), referral=affiliate)

    commission = Commission.objects.get(sale_id=enrollment.pk)
    assert (commission.sale_amount_cents, commission.amount_cents) == (10000, 1000)


def test_refunds_reverse_the_taxed_commission_in_proportion(client, stripe_tax):
    affiliate = AffiliateFactory(rate_percent=10)
    enrollment = buy(client, stripe_tax, CourseFactory(price_cents=12000), referral=affiliate)
    charge_id = next(iter(stripe_tax.charges))
    auth = {"Authorization": "Bearer sk_test_maaledu"}

    requests.post(
        f"{stripe_tax.url}/v1/refunds",
        headers=auth,
        data={"charge": charge_id, "amount": 3000},
        timeout=5,
    )
    post_event(client, stripe_tax.event_for_charge(charge_id))
    commission = Commission.objects.get(sale_id=enrollment.pk)
    assert commission.reversed_cents == 250  # a quarter of the price back: a quarter of 10.00

    requests.post(
        f"{stripe_tax.url}/v1/refunds", headers=auth, data={"charge": charge_id}, timeout=5
    )
    post_event(client, stripe_tax.event_for_charge(charge_id))
    commission.refresh_from_db()
    assert (commission.reversed_cents, commission.status) == (1000, Commission.Status.REVERSED)


def test_a_stripe_shaped_payload_with_tax_inside_the_price_is_fulfilled(redis_down):
    """(No broker: the receipt fetch the payment publishes is not this test's subject.)"""
    enrollment = EnrollmentFactory(course__price_cents=3000, course__currency="usd")

    outcome = fulfil_checkout_session(
        session_payload(enrollment, subtotal=3000, tax=273, total=3000)
    )

    enrollment.refresh_from_db()
    assert outcome == FULFILLED
    assert (enrollment.stripe_subtotal_cents, enrollment.tax_cents) == (3000, 273)
    assert enrollment.stripe_invoice_id == "in_1PgaftB7WZ01zgkWTaxInvo1"


def test_tax_added_on_top_of_our_price_goes_to_review():
    """An exclusive price would charge more than the price we showed: not fulfilled."""
    enrollment = EnrollmentFactory(course__price_cents=3000, course__currency="usd")

    outcome = fulfil_checkout_session(
        session_payload(enrollment, subtotal=3000, tax=600, total=3600)
    )

    enrollment.refresh_from_db()
    assert outcome == AMOUNT_MISMATCH
    assert enrollment.status == Enrollment.Status.PENDING and enrollment.needs_review
    assert "3600" in enrollment.review_reason


def test_a_subtotal_other_than_our_price_goes_to_review():
    enrollment = EnrollmentFactory(course__price_cents=3000, course__currency="usd")

    outcome = fulfil_checkout_session(session_payload(enrollment, subtotal=2500, tax=0, total=2500))

    assert outcome == AMOUNT_MISMATCH


@pytest.mark.parametrize(
    ("stripe_tax_on", "note", "sentence"),
    [
        (True, "incl. tax", "Prices include VAT or sales tax where it applies"),
        (False, "no tax added", "You pay the price shown; no tax is added at checkout."),
    ],
)
def test_every_price_carries_the_same_tax_note(client, settings, stripe_tax_on, note, sentence):
    settings.STRIPE_AUTOMATIC_TAX = stripe_tax_on
    course = CourseFactory(price_cents=4900)

    catalog = client.get(reverse("courses:catalog")).text
    detail = client.get(course.get_absolute_url()).text
    checkout = client.get(reverse("enrollments:checkout", args=[course.slug])).text

    for name, page in (("catalog", catalog), ("course", detail)):
        assert f'<small class="tax-note">{note}</small>' in page, name
    assert f'<small class="tax-note">{sentence}' in checkout


def test_the_confirmation_email_names_the_tax_in_the_price_and_the_receipt(
    client, stripe_tax, django_capture_on_commit_callbacks
):
    from django.core import mail

    course = CourseFactory(price_cents=12000, currency="eur")
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "b@example.com"})
    enrollment = Enrollment.objects.get()
    stripe_tax.complete_session(enrollment.stripe_session_id)
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, stripe_tax.event_for_session(enrollment.stripe_session_id))

    [message] = mail.outbox
    assert "Amount paid: €120.00, incl. €20.00 tax" in message.body
    assert "/my/orders/" in message.body
