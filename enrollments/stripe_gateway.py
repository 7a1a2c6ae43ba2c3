"""The one module that talks to Stripe. Everything else sees plain dicts and our own errors.

``STRIPE_API_BASE`` points the SDK at another host (the local fake in tests and demos).
"""

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlsplit

import requests
import stripe
import urllib3
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


class _Urllib3Client(stripe.HTTPClient):
    """The SDK's HTTP transport, on urllib3 directly (the SDK still encodes, authenticates,
    retries and raises its errors; ``http_client`` is its extension point).

    The SDK's ``requests`` client spent most of a call's CPU in ``requests`` itself: preparing
    the request, its cookie jar and hooks, and reading proxy variables (all of ``os.environ``,
    twice) and ``~/.netrc`` on every call. Here one thread-safe pool keeps the connections
    (as many as ``requests`` kept, ``POOL_SIZE``); TLS is verified with the SDK's CA bundle; the
    environment's proxy for Stripe's host is read once, when the client is made. Timeouts and
    connection errors may be retried (as the SDK's own clients decide); TLS errors are not."""

    name = "urllib3"
    POOL_SIZE = 10

    def __init__(self, *, timeout: float, proxy: str | None = None):
        super().__init__(proxy=proxy)
        tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": stripe.ca_bundle_path}
        self._pool = (
            urllib3.ProxyManager(proxy, maxsize=self.POOL_SIZE, **tls)
            if proxy
            else urllib3.PoolManager(maxsize=self.POOL_SIZE, **tls)
        )
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)

    def request(self, method, url, headers, post_data=None):
        try:
            response = self._pool.request(
                method.upper(),
                url,
                body=post_data,
                headers=headers,
                timeout=self._timeout,
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.SSLError as error:
            raise stripe.APIConnectionError(
                f"Could not verify Stripe's TLS certificate ({error})", should_retry=False
            ) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise stripe.APIConnectionError(
                f"Unexpected error communicating with Stripe ({type(error).__name__})",
                should_retry=True,
            ) from error
        return response.data, response.status, response.headers

    def close(self):
        self._pool.clear()


@lru_cache(maxsize=4)
def _client_for(secret_key: str, api_base: str) -> stripe.StripeClient:
    base_addresses = {"api": api_base} if api_base else None
    base = api_base or stripe.DEFAULT_API_BASE
    proxies = requests.utils.get_environ_proxies(base)
    proxy = proxies.get(urlsplit(base).scheme) or proxies.get("all")
    return stripe.StripeClient(
        secret_key,
        base_addresses=base_addresses,
        max_network_retries=2,
        http_client=_Urllib3Client(timeout=STRIPE_TIMEOUT_SECONDS, proxy=proxy),
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
    price_data = {
        "currency": currency,
        "unit_amount": amount_cents,
        "product_data": {"name": course_title},
    }
    params = {
        "mode": "payment",
        "line_items": [{"quantity": 1, "price_data": price_data}],
        "customer_email": customer_email,
        "client_reference_id": str(enrollment_id),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(expires_at.timestamp()),
        # A paid invoice for every purchase: the learner's receipt ("My orders").
        "invoice_creation": {"enabled": True, "invoice_data": {"metadata": metadata}},
    }
    if settings.STRIPE_AUTOMATIC_TAX:
        # Stripe Tax on tax-inclusive prices: the buyer pays the price we show, whatever the
        # rate; business buyers may enter a VAT/tax ID (reverse charge where it applies).
        price_data["tax_behavior"] = "inclusive"
        params["automatic_tax"] = {"enabled": True}
        params["tax_id_collection"] = {"enabled": True}
    # The SDK's raw request (its encoding, auth, retries and errors) and the JSON as a dict:
    # building StripeObjects for the whole session, to read three fields, cost more CPU than
    # the rest of the call.
    session = _call(
        "checkout.sessions.create",
        _client().raw_request,
        "post",
        "/v1/checkout/sessions",
        idempotency_key=f"enrollment-{enrollment_id}-checkout",
        **params,
    ).data
    return CheckoutSession(
        id=session["id"],
        url=session["url"],
        expires_at=datetime.fromtimestamp(session["expires_at"], tz=UTC),
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


def retrieve_invoice(invoice_id: str) -> dict:
    """The invoice Checkout created for a payment (its hosted page and PDF links)."""
    invoice = _call("invoices.retrieve", _client().v1.invoices.retrieve, invoice_id)
    return invoice.to_dict()


def retrieve_payment_intent(payment_intent: str) -> dict:
    intent = _call(
        "payment_intents.retrieve", _client().v1.payment_intents.retrieve, payment_intent
    )
    return intent.to_dict()


def retrieve_charge(charge_id: str) -> dict:
    return _call("charges.retrieve", _client().v1.charges.retrieve, charge_id).to_dict()


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


def _without_nul(value):
    """``value`` (parsed JSON) with every NUL character removed from its strings and keys."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


_INT64 = range(-(2**63), 2**63)


def _ints_as_text_beyond_64_bits(value):
    """``value`` (parsed JSON) with every integer outside 64 bits as its decimal text."""
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
        return str(value)
    if isinstance(value, list):
        return [_ints_as_text_beyond_64_bits(item) for item in value]
    if isinstance(value, dict):
        return {key: _ints_as_text_beyond_64_bits(item) for key, item in value.items()}
    return value


def parse_webhook(payload: bytes, signature_header: str | None) -> dict:
    """Verify ``Stripe-Signature`` over the raw body and parse the event envelope.

    The SDK refuses a signature older than its tolerance (300 s) but accepts any date in the
    future; we refuse those beyond the same tolerance too. The envelope's shape (an object with
    a string ``id`` and ``type``, an object ``data.object``, and if present an integer
    ``created`` and a boolean ``livemode``) is checked here, once: anything else is
    ``InvalidWebhook``.
    """
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise InvalidWebhook("STRIPE_WEBHOOK_SECRET is not set")
    tolerance = stripe.Webhook.DEFAULT_TOLERANCE
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature_header, settings.STRIPE_WEBHOOK_SECRET, tolerance
        )
        event = json.loads(payload)
        if b"\\u0000" in payload:  # rare: a walk only when the text may hold a NUL
            # PostgreSQL's jsonb cannot hold NUL: drop it from the verified copy we store.
            # (From the parsed strings, never the raw text: there ``\\u0000`` is a literal
            # backslash followed by ``u0000``, which must stay as it is.)
            event = _without_nul(event)
        if _LONG_NUMBER.search(payload):  # rare: a walk only when a number may not fit
            # MongoDB (BSON) holds integers of 64 bits at most: keep larger ones, which Stripe
            # never sends, as text in the copy we store (a field we read then has the wrong
            # type, and the event is refused as malformed, on every database alike).
            event = _ints_as_text_beyond_64_bits(event)
        if _SURROGATE_ESCAPE.search(payload):
            # Nor a lone surrogate (a pair is one character): UnicodeEncodeError, a ValueError.
            json.dumps(event, ensure_ascii=False).encode("utf-8")
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise InvalidWebhook(str(error)) from error
    if _signed_at(signature_header) > time.time() + tolerance:
        raise InvalidWebhook("Timestamp outside the tolerance zone (in the future)")
    problem = _envelope_problem(event)
    if problem:
        raise InvalidWebhook(f"not a Stripe event: {problem}")
    return event


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def _signed_at(signature_header: str) -> int:
    """The ``t=`` of a header the SDK has already verified (so it is there and numeric)."""
    for item in signature_header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            return int(value)
    raise InvalidWebhook("no timestamp in Stripe-Signature")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _envelope_problem(event) -> str:
    if not isinstance(event, dict):
        return f"the body is a JSON {type(event).__name__}, not an object"
    for field, longest in (("id", 255), ("type", 100)):  # the StripeEvent columns
        value = event.get(field)
        if not (isinstance(value, str) and 0 < len(value) <= longest):
            return f"{field} is not a string of 1 to {longest} characters"
    # Stripe always sends these two; a signed body without them is still judged by the rest.
    created = event.get("created", 0)
    if not (_is_int(created) and created >= 0):
        return "created is not a timestamp"
    if not isinstance(event.get("livemode", False), bool):
        return "livemode is not a boolean"
    data = event.get("data")
    if not (isinstance(data, dict) and isinstance(data.get("object"), dict)):
        return "data.object is not an object"
    return ""


# The fields of ``data.object`` our handlers read, with the types Stripe sends them in
# (``None`` where Stripe sends null). A field of another type makes the event malformed.
_STRING, _INTEGER, _OBJECT = (str,), (int,), (dict,)
_OBJECT_FIELDS = {
    "checkout.session.": {
        "id": _STRING,
        "client_reference_id": (*_STRING, None),
        "payment_status": (*_STRING, None),
        "status": (*_STRING, None),
        "amount_total": (*_INTEGER, None),
        "currency": (*_STRING, None),
        "payment_intent": (*_STRING, None),
        "metadata": (*_OBJECT, None),
    },
    "charge.dispute.": {
        "id": _STRING,
        "charge": (*_STRING, None),
        "payment_intent": (*_STRING, None),
        "amount": (*_INTEGER, None),
        "status": (*_STRING, None),
        "reason": (*_STRING, None),
        "metadata": (*_OBJECT, None),
    },
    "charge.": {
        "id": _STRING,
        "payment_intent": (*_STRING, None),
        "amount_refunded": _INTEGER,
        "metadata": (*_OBJECT, None),
    },
}


def is_live_key() -> bool:
    return settings.STRIPE_SECRET_KEY.startswith(("sk_live_", "rk_live_"))


def event_refusal(event: dict) -> str:
    """Why a verified event must not be applied, or ``""``: it belongs to the other mode than
    our key (a live event on a test key, or the reverse), or a field we read has the wrong
    type. Such an event is kept, as ignored with this reason, never applied."""
    problem = _envelope_problem(event)  # also stored events reprocessed by staff
    if problem:
        return f"malformed event: {problem}"
    live = is_live_key()
    if "livemode" in event and event["livemode"] != live:
        mode = "live" if event["livemode"] else "test"
        return f"{mode}-mode event, but the site runs on a {'live' if live else 'test'} key"
    obj = event["data"]["object"]
    prefix = next((p for p in _OBJECT_FIELDS if event["type"].startswith(p)), None)
    for field, types in _OBJECT_FIELDS.get(prefix, {}).items():
        value = obj.get(field)
        if value is None and None in types:
            continue
        allowed = tuple(t for t in types if t is not None)
        if not isinstance(value, allowed) or (allowed == _INTEGER and not _is_int(value)):
            return f"malformed event: data.object.{field} is {type(value).__name__}"
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and not all(isinstance(v, str) for v in metadata.values()):
        return "malformed event: data.object.metadata holds a value that is not a string"
    return ""
