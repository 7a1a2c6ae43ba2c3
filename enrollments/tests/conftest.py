import json
from pathlib import Path

import pytest
from django.conf import settings

from fakes.stripe_server import FakeStripe, sign

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"


@pytest.fixture
def fake_stripe(settings):
    """A local fake Stripe API the real SDK talks to (only the HTTP boundary is fake)."""
    with FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url
        yield fake


def fixture_event(name: str) -> dict:
    return json.loads((FIXTURES / "events" / f"{name}.json").read_bytes())


def signed_headers(payload: bytes, secret: str | None = None, timestamp: int | None = None):
    return {"Stripe-Signature": sign(payload, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp)}


def post_event(client, event: dict | bytes, **kwargs):
    """Deliver an event to our webhook exactly as Stripe would: raw JSON, signed now."""
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    return client.post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers=signed_headers(payload, **kwargs),
    )


def lms_action(enrollment) -> str | None:
    """The LMS call this enrollment's state asks for now ("enrol", "suspend", "unenrol" or
    None), by lms_sync's own rule: its receivers create that job when they hear the signal, and
    its sweep when the signal was lost (lms_sync/tests cover both). Read after refresh_from_db.
    """
    from lms_sync import selectors

    return selectors.wanted_action(enrollment, has_lms_access_job=True)
