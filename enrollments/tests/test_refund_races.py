"""Staff confirming one refund several times at once (a double click), with real threads
against PostgreSQL and the fake Stripe, while Stripe refuses the refund."""

import pytest
from django.test import Client

from accounts.tests.factories import StaffFactory
from common.testing.concurrency import concurrent_database, race  # noqa: F401 - a fixture
from enrollments.models import RefundRequest
from enrollments.tests.test_refunds import buy, end_state, refund_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("concurrent_database"),
]
CLICKS = 8
ROUNDS = 5


def test_confirming_a_refund_stripe_refuses_many_times_at_once_never_errors(fake_stripe):
    enrollment = buy(Client(), fake_stripe)
    # A chargeback opened on Stripe that we have not heard of yet: Stripe refuses refunds.
    fake_stripe.event_for_dispute(next(iter(fake_stripe.charges)), status="needs_response")
    staff = StaffFactory()
    data = {"amount": "30.00", "reason": "Learner asked"}
    preview = Client()
    preview.force_login(staff)
    text = preview.post(refund_url(enrollment), data).text
    total = text.split('name="confirmed_total_cents" value="')[1].split('"')[0]

    def confirm():
        client = Client()
        client.raise_request_exception = False
        client.force_login(staff)
        return client.post(refund_url(enrollment), {**data, "confirmed_total_cents": total})

    responses = []
    for _ in range(ROUNDS):
        responses += race(confirm, CLICKS)

    odd = [
        (response.status_code, _message(response.text))
        for response in responses
        if response.status_code != 200 or "Stripe did not accept the refund" not in response.text
    ]
    assert not odd, odd
    assert RefundRequest.objects.count() == 0
    assert end_state(enrollment) == ("paid", 0, "enrol", (0, "pending"))
    assert fake_stripe.refunds == {}


def _message(text: str) -> str:
    """A response page's form errors, or its start: what a failing run saw."""
    errors = text.split('<ul class="errorlist nonfield"><li>')[1:]
    return " | ".join(error.split("</li>")[0] for error in errors) or text[:300]
