"""Staff confirming one refund several times at once (a double click), with real threads
against PostgreSQL and the fake Stripe, while Stripe refuses the refund."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from accounts.tests.factories import StaffFactory
from enrollments.models import RefundRequest
from enrollments.tests.test_refunds import buy, end_state, refund_url

pytestmark = pytest.mark.django_db(transaction=True)
CLICKS = 8
ROUNDS = 5


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite serialises every writer)")


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

    def confirm(barrier):
        client = Client()
        client.raise_request_exception = False
        client.force_login(staff)
        try:
            barrier.wait()
            return client.post(refund_url(enrollment), {**data, "confirmed_total_cents": total})
        finally:
            connection.close()

    responses = []
    for _ in range(ROUNDS):
        barrier = threading.Barrier(CLICKS)
        with ThreadPoolExecutor(max_workers=CLICKS) as pool:
            responses += list(pool.map(confirm, [barrier] * CLICKS))

    assert sorted({response.status_code for response in responses}) == [200]
    assert all("Stripe did not accept the refund" in response.text for response in responses)
    assert RefundRequest.objects.count() == 0
    assert end_state(enrollment) == ("paid", 0, "enrol", (0, "pending"))
    assert fake_stripe.refunds == {}
