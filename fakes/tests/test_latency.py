"""The fakes' latency model: off by default, a seeded log-normal with a capped tail when given,
applied to API answers (never by sleeping in a test: the waits are recorded instead)."""

import statistics

import pytest
import requests
import stripe

from fakes.frappe_server import FakeFrappe
from fakes.latency import FRAPPE, STRIPE, Latency
from fakes.stripe_server import FakeStripe


def test_the_stripe_default_centres_on_250_ms_with_a_tail_capped_at_one_second():
    draw = STRIPE.sampler()
    waits = sorted(draw() for _ in range(20_000))

    assert statistics.median(waits) == pytest.approx(0.250, rel=0.03)
    assert waits[int(len(waits) * 0.99)] == pytest.approx(0.900, rel=0.08)
    assert max(waits) == 1.0


def test_the_same_seed_draws_the_same_waits():
    first, second = STRIPE.sampler(), STRIPE.sampler()

    assert [first() for _ in range(50)] == [second() for _ in range(50)]


def test_a_model_without_a_tail_always_waits_the_median():
    draw = FRAPPE.sampler()

    assert {draw() for _ in range(100)} == {0.3}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("off", None),
        ("0", None),
        ("300", Latency(300)),
        ("250,p99=900,max=1000", Latency(250, p99_ms=900, max_ms=1000)),
    ],
)
def test_a_model_is_parsed_from_the_command_line(text, expected):
    assert Latency.parse(text) == expected


@pytest.mark.parametrize("text", ["250,p95=300", "250,p99=100", "-1"])
def test_a_malformed_model_is_refused(text):
    with pytest.raises(ValueError):
        Latency.parse(text)


def _recording(fake) -> list[float]:
    waits: list[float] = []
    fake._sleep = waits.append
    return waits


def test_fake_stripe_answers_at_once_unless_given_a_model():
    with FakeStripe() as fake:
        waits = _recording(fake)
        client = stripe.StripeClient(
            "sk_test_x", base_addresses={"api": fake.url}, max_network_retries=0
        )
        client.v1.checkout.sessions.list()

    assert fake.latency is None
    assert waits == []


def test_fake_stripe_delays_each_api_answer_but_not_its_hosted_page():
    with FakeStripe(latency=Latency(250)) as fake:
        waits = _recording(fake)
        client = stripe.StripeClient(
            "sk_test_x", base_addresses={"api": fake.url}, max_network_retries=0
        )
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "success_url": "https://example.com/ok",
                "cancel_url": "https://example.com/no",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 4900,
                            "product_data": {"name": "Course"},
                        },
                    }
                ],
            }
        )
        requests.get(session.url, timeout=10)

    assert waits == [0.25]


def test_fake_frappe_delays_each_answer_when_given_a_model():
    with FakeFrappe(latency=FRAPPE) as fake:
        waits = _recording(fake)
        requests.get(f"{fake.url}/api/method/ping", timeout=10)

    assert waits == [0.3]
