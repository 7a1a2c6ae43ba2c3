"""The one module that talks to Stripe. Everything else sees plain dicts and our own errors.

``STRIPE_API_BASE`` points the SDK at another host (the local fake in tests and demos).
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

# How long a network call to Stripe may take before the learner sees the error page.
STRIPE_TIMEOUT_SECONDS = 20


class PaymentsNotConfigured(Exception):
    """No STRIPE_SECRET_KEY: paid checkout is switched off."""


class GatewayError(Exception):
    """Stripe could not be reached, failed, or refused the request.

    ``refused`` is True when Stripe answered no (a 4xx): the request certainly did nothing.
    Otherwise (timeout, connection error, 5xx) it may or may not have happened.
    """

    refused = False


class InvalidWebhook(Exception):
    """A webhook body whose signature, timestamp or JSON does not check out."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    expires_at: datetime


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


@lru_cache(maxsize=4)
def _client_for(secret_key: str, api_base: str) -> stripe.StripeClient:
    base_addresses = {"api": api_base} if api_base else None
    return stripe.StripeClient(
        secret_key,
        base_addresses=base_addresses,
        max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT_SECONDS),
    )


def _client() -> stripe.StripeClient:
    if not is_configured():
        raise PaymentsNotConfigured("STRIPE_SECRET_KEY is not set")
    return _client_for(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


def _call(description: str, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except stripe.StripeError as error:
        logger.error(
            "event=stripe.error call=%s type=%s status=%s code=%s",
            description,
            type(error).__name__,
            error.http_status,
            error.code,
        )
        gateway_error = GatewayError(description)
        gateway_error.refused = error.http_status is not None and 400 <= error.http_status < 500
        raise gateway_error from error


def create_checkout_session(
    *,
    enrollment_id: int,
    course_title: str,
    amount_cents: int,
    currency: str,
    customer_email: str,
    success_url: str,
    cancel_url: str,
    expires_at: datetime,
) -> CheckoutSession:
    """A hosted Checkout Session for one enrollment, at the price the server computed.

    The idempotency key is derived from the enrollment, so a retry (ours or the SDK's) after a
    lost answer returns the same session instead of opening a second one.
    """
    metadata = {"enrollment_id": str(enrollment_id)}
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency,
                    "unit_amount": amount_cents,
                    "product_data": {"name": course_title},
                },
            }
        ],
        "customer_email": customer_email,
        "client_reference_id": str(enrollment_id),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(expires_at.timestamp()),
    }
    session = _call(
        "checkout.sessions.create",
        _client().v1.checkout.sessions.create,
        params=params,
        options={"idempotency_key": f"enrollment-{enrollment_id}-checkout"},
    )
    return CheckoutSession(
        id=session.id,
        url=session.url,
        expires_at=datetime.fromtimestamp(session.expires_at, tz=UTC),
    )


def create_refund(
    *, payment_intent: str, amount_cents: int, idempotency_key: str, metadata: dict
) -> dict:
    """Refund part or all of a payment. The key makes a repeated confirmation a no-op."""
    refund = _call(
        "refunds.create",
        _client().v1.refunds.create,
        params={
            "payment_intent": payment_intent,
            "amount": amount_cents,
            "reason": "requested_by_customer",
            "metadata": metadata,
        },
        options={"idempotency_key": idempotency_key},
    )
    return refund.to_dict()


def refunded_total(payment_intent: str) -> int:
    """What Stripe has refunded on a payment so far, all refunds together."""
    page = _call(
        "refunds.list",
        _client().v1.refunds.list,
        params={"payment_intent": payment_intent, "limit": 100},
    )
    try:
        return sum(
            refund.amount for refund in page.auto_paging_iter() if refund.status == "succeeded"
        )
    except stripe.StripeError as error:
        raise GatewayError("refunds.list") from error


def refunds_since(*, created_since: datetime):
    """Every refund created since the given time (pages through them)."""
    page = _call(
        "refunds.list",
        _client().v1.refunds.list,
        params={"created": {"gte": int(created_since.timestamp())}, "limit": 100},
    )
    try:
        for refund in page.auto_paging_iter():
            yield refund.to_dict()
    except stripe.StripeError as error:
        raise GatewayError("refunds.list") from error


def retrieve_checkout_session(session_id: str) -> dict:
    session = _call(
        "checkout.sessions.retrieve", _client().v1.checkout.sessions.retrieve, session_id
    )
    return session.to_dict()


def expire_checkout_session(session_id: str) -> dict:
    """Close an open session so it can no longer be paid; raises GatewayError if not open."""
    session = _call("checkout.sessions.expire", _client().v1.checkout.sessions.expire, session_id)
    return session.to_dict()


def completed_checkout_sessions(*, created_since: datetime):
    """Every complete Checkout Session created since the given time (pages through them)."""
    page = _call(
        "checkout.sessions.list",
        _client().v1.checkout.sessions.list,
        params={
            "created": {"gte": int(created_since.timestamp())},
            "status": "complete",
            "limit": 100,
        },
    )
    try:
        for session in page.auto_paging_iter():
            yield session.to_dict()
    except stripe.StripeError as error:
        raise GatewayError("checkout.sessions.list") from error


def parse_webhook(payload: bytes, signature_header: str | None) -> dict:
    """Verify ``Stripe-Signature`` over the raw body (default 300 s tolerance) and parse it."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise InvalidWebhook("STRIPE_WEBHOOK_SECRET is not set")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            signature_header,
            settings.STRIPE_WEBHOOK_SECRET,
            stripe.Webhook.DEFAULT_TOLERANCE,
        )
        # PostgreSQL's jsonb cannot hold NUL: drop it from the verified copy we store.
        event = json.loads(payload.replace(b"\\u0000", b""))
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise InvalidWebhook(str(error)) from error
    data = event.get("data") if isinstance(event, dict) else None
    if not (
        isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        # What the inbox row holds (StripeEvent.event_id, .type); Stripe's are far shorter.
        and len(event["id"]) <= 255
        and len(event["type"]) <= 100
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
    ):
        raise InvalidWebhook("not a Stripe event")
    return event
