"""A small, stateful fake of the Stripe API for tests, browser runs and benchmarks.

It speaks enough of Stripe's v1 HTTP API for the real ``stripe`` SDK to work against it::

    stripe.StripeClient("sk_test_x", base_addresses={"api": fake.url}, max_network_retries=0)

Checkout Sessions, Refunds, Charges, PaymentIntents and Invoices are kept in memory, with
Stripe's form encoding, error bodies, Idempotency-Key replays and list pagination.  It also
serves a bare hosted checkout page at ``/pay/<session id>``, the hosted invoice page and PDF
that ``invoice_creation`` produces, and delivers signed webhook events.  ``tax_rate_percent``
stands in for Stripe Tax: sessions created with ``automatic_tax[enabled]=true`` get that rate,
inside the price (``tax_behavior=inclusive``) or on top of it (``exclusive``).

Standard library only, and no Django, so it runs in any process.  Standalone::

    python -m fakes.stripe_server --port 12111 \\
        --webhook-url http://127.0.0.1:8000/webhooks/stripe/ --webhook-secret whsec_...
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import hashlib
import hmac
import html
import http.client
import json
import logging
import operator
import re
import secrets
import socket
import string
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .latency import Latency

logger = logging.getLogger(__name__)

API_VERSION = "2025-03-31.basil"
DEFAULT_EMAIL = "customer@example.com"
SESSION_EVENT_TYPES = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)
CHARGE_EVENT_TYPES = frozenset({"charge.succeeded", "charge.refunded"})
PAYMENT_STATUSES = ("paid", "unpaid", "no_payment_required")

# Top-level parameters Stripe documents for each endpoint.  Anything else is rejected the way
# Stripe rejects it, so a typo in the app fails in tests instead of being silently ignored.
_SESSION_CREATE_PARAMS = frozenset(
    {
        "adaptive_pricing",
        "after_expiration",
        "allow_promotion_codes",
        "allowed_payment_method_types",
        "automatic_tax",
        "billing_address_collection",
        "branding_settings",
        "cancel_url",
        "client_reference_id",
        "consent_collection",
        "currency",
        "custom_fields",
        "custom_text",
        "customer",
        "customer_creation",
        "customer_email",
        "customer_update",
        "discounts",
        "excluded_payment_method_types",
        "expand",
        "expires_at",
        "invoice_creation",
        "line_items",
        "locale",
        "metadata",
        "mode",
        "name_collection",
        "optional_items",
        "payment_intent_data",
        "payment_method_collection",
        "payment_method_configuration",
        "payment_method_data",
        "payment_method_options",
        "payment_method_types",
        "permissions",
        "phone_number_collection",
        "redirect_on_completion",
        "return_url",
        "saved_payment_method_options",
        "setup_intent_data",
        "shipping_address_collection",
        "shipping_options",
        "submit_type",
        "subscription_data",
        "success_url",
        "tax_id_collection",
        "ui_mode",
        "wallet_options",
    }
)
_SESSION_LIST_PARAMS = frozenset(
    {"created", "expand", "limit", "payment_intent", "starting_after", "status"}
)
_REFUND_CREATE_PARAMS = frozenset(
    {
        "amount",
        "charge",
        "currency",
        "customer",
        "expand",
        "instructions_email",
        "metadata",
        "origin",
        "payment_intent",
        "reason",
        "refund_application_fee",
        "reverse_transfer",
    }
)
_REFUND_LIST_PARAMS = frozenset({"charge", "created", "limit", "payment_intent", "starting_after"})
_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
_SESSION_STATUSES = ("open", "complete", "expired")
_SESSION_EXPANSIONS = frozenset({"invoice", "line_items", "payment_intent"})
_TAX_BEHAVIORS = ("exclusive", "inclusive", "unspecified")
_CREATED_OPERATORS = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_DISPUTE_EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)
_ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
_CURRENCY_SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£"}
_ID_ALPHABET = string.ascii_letters + string.digits
# Maps every byte to an id character, so random ids cost one translate() (the slight modulo
# bias is irrelevant for test ids).
_ID_TABLE = bytes(ord(_ID_ALPHABET[byte % len(_ID_ALPHABET)]) for byte in range(256))
_SESSION_MIN_LIFETIME = 30 * 60
_SESSION_MAX_LIFETIME = 24 * 60 * 60
# How often serve_forever() looks for a stop request: stop() waits up to this long.
_POLL_INTERVAL = 0.02
# expires_at is checked against our clock, which may have ticked since the app computed it.
_CLOCK_SLACK = 5


# --------------------------------------------------------------------------- public helpers


def sign(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """Return a ``Stripe-Signature`` header value for ``payload`` signed with ``secret``.

    ``v1`` is the hex HMAC-SHA256 of ``"<timestamp>." + payload``, exactly as Stripe signs
    webhook deliveries, so ``stripe.Webhook.construct_event`` accepts it.
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if timestamp is None:
        timestamp = int(time.time())
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def parse_params(encoded: str) -> dict:
    """Decode Stripe's bracketed form encoding into nested dicts and lists.

    ``line_items[0][price_data][unit_amount]=4990&expand[]=line_items`` becomes
    ``{"line_items": [{"price_data": {"unit_amount": "4990"}}], "expand": ["line_items"]}``.
    Values stay strings, as on the wire.  When a key conflicts with an earlier one (``a=1``
    then ``a[b]=2``) the later one wins; the SDK never sends such pairs.
    """
    root: dict = {}
    for key, value in urllib.parse.parse_qsl(encoded, keep_blank_values=True):
        *parents, leaf = _key_path(key)
        node = root
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf or str(len(node))] = value
    return {key: _restore_lists(value, key) for key, value in root.items()}


def format_amount(amount: int, currency: str) -> str:
    """Format an amount in the currency's minor unit for people: ``(4990, "eur")`` -> ``€49.90``."""
    if currency in _ZERO_DECIMAL_CURRENCIES:
        number = f"{amount:,}"
    else:
        major, minor = divmod(amount, 100)
        number = f"{major:,}.{minor:02d}"
    symbol = _CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    params: dict  # the query string and the form body, decoded by parse_params()
    headers: dict[str, str]  # names in Title-Case, e.g. "Idempotency-Key"
    request_id: str  # the Request-Id the fake answered with

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


# --------------------------------------------------------------------------- the fake


class FakeStripe:
    """An in-memory Stripe served over HTTP on 127.0.0.1.

    ``port=0`` picks a free port.  ``clock`` supplies "now" for ``created`` and
    ``expires_at`` (webhook signatures always use the real time, as the receiver checks them
    against its own clock).  ``sessions``, ``payment_intents``, ``charges``, ``refunds``,
    ``disputes`` and ``invoices`` are the live stores, keyed by id, for inspection.
    ``tax_rate_percent`` is the rate "Stripe Tax" finds for every buyer (0 = not registered).
    """

    def __init__(
        self,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        *,
        port: int = 0,
        clock: Callable[[], float] = time.time,
        verbose: bool = False,
        tax_rate_percent: int = 0,
        latency: Latency | None = None,
    ) -> None:
        if webhook_url and not webhook_secret:
            raise ValueError("a webhook_url needs a webhook_secret to sign deliveries")
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.clock = clock
        self.verbose = verbose
        self.offline = False
        self.tax_rate_percent = tax_rate_percent
        # Off unless given: each API answer then waits a draw of the model (not the pay page).
        self.latency = latency
        self._delay = latency.sampler() if latency else None
        self._sleep = time.sleep
        self.sessions: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # One lock serialises all state changes.  The work per request is tiny, and it makes
        # concurrent requests with the same Idempotency-Key behave.
        self._lock = threading.RLock()
        self._line_items: dict[str, list[dict]] = {}
        self._payment_metadata: dict[str, dict] = {}
        self._invoice_metadata: dict[str, dict] = {}
        self._refund_requests: dict[str, dict] = {}
        self._idempotent: dict[str, _Saved] = {}
        self._failures: list[_Failure] = []
        self._requests: list[RecordedRequest] = []

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeStripe:
        """Serve in a daemon thread and return self."""
        server = self._bind()
        self._thread = threading.Thread(
            target=server.serve_forever, args=(_POLL_INTERVAL,), name="fake-stripe", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (used by ``python -m``)."""
        server = self._bind()
        logger.info("Fake Stripe listening on %s", self.url)
        try:
            server.serve_forever(_POLL_INTERVAL)
        except KeyboardInterrupt:
            pass
        finally:
            server.close_connections()
            server.server_close()
            self._server = None

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections, so clients see it go away."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join()
        server.close_connections()
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeStripe is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _bind(self) -> _Server:
        if self._server is not None:
            raise RuntimeError("FakeStripe is already running")
        self._server = _Server(("127.0.0.1", self._port), self._handle, verbose=self.verbose)
        return self._server

    # ---------------------------------------------------------------- test controls

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget every object, saved idempotent response, pending failure and request."""
        with self._lock:
            for store in (
                self.sessions,
                self.payment_intents,
                self.charges,
                self.refunds,
                self.disputes,
                self.invoices,
                self._line_items,
                self._payment_metadata,
                self._refund_requests,
                self._idempotent,
                self._invoice_metadata,
            ):
                store.clear()
            self._failures.clear()
            self._requests.clear()
            self.offline = False

    def fail_next(
        self,
        status: int = 500,
        error_type: str = "api_error",
        message: str = "An unknown error occurred.",
        count: int = 1,
        path_prefix: str = "/v1/checkout/sessions",
        code: str | None = None,
    ) -> None:
        """Answer the next ``count`` API requests under ``path_prefix`` with a Stripe error.

        Injected failures are never saved under an Idempotency-Key: they stand for failures
        before Stripe started executing, so a retry with the same key goes through.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        error = _ApiError(message, status=status, error_type=error_type, code=code)
        with self._lock:
            self._failures.append(_Failure(path_prefix, error, count))

    # ---------------------------------------------------------------- payment simulation

    def complete_session(
        self,
        session_id: str,
        *,
        payment_status: str = "paid",
        amount_total: int | None = None,
        email: str | None = None,
    ) -> dict:
        """Finish Checkout for an open session, as the customer would; return the session.

        Creates a PaymentIntent and a Charge (unless ``no_payment_required``) carrying the
        session's ``payment_intent_data.metadata``.  ``payment_status="unpaid"`` models a
        delayed method such as ACH; completing that session again with ``"paid"`` settles it.
        ``amount_total`` overrides the charged amount, e.g. to test amount checks.
        """
        if payment_status not in PAYMENT_STATUSES:
            raise ValueError(f"payment_status must be one of {PAYMENT_STATUSES}")
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] == "complete" and session["payment_status"] == "unpaid":
                if payment_status != "paid":
                    raise ValueError(f"session {session_id} is already complete and unpaid")
                self._settle(session)
            elif session["status"] != "open":
                raise ValueError(f"session {session_id} is {session['status']}, not open")
            else:
                self._finish_checkout(session, payment_status, amount_total, email)
            return session

    def expire_session(self, session_id: str) -> dict:
        """Expire an open session, as Stripe does at ``expires_at``; return the session."""
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"session {session_id} is {session['status']}, not open")
            session.update(status="expired", url=None)
            return session

    def _finish_checkout(
        self, session: dict, payment_status: str, amount_total: int | None, email: str | None
    ) -> None:
        if session["automatic_tax"]["enabled"]:
            self._apply_tax(session)
        if amount_total is not None:
            session["amount_total"] = amount_total
        session.update(
            status="complete",
            payment_status=payment_status,
            url=None,
            customer_details=_customer_details(email or session["customer_email"] or DEFAULT_EMAIL),
            collected_information={"shipping_details": None},
        )
        if payment_status != "no_payment_required":
            session["payment_intent"] = self._create_payment(session)
        if session["invoice_creation"]["enabled"]:
            self._create_invoice(session)

    def _apply_tax(self, session: dict) -> None:
        """Stripe Tax at completion, once the buyer's address is known: each line item's tax
        inside its amount (inclusive) or added to it (exclusive), half up to the minor unit."""
        rate = self.tax_rate_percent
        tax_total = 0
        for item in self._line_items[session["id"]]:
            subtotal = item["amount_subtotal"]
            if item["price"]["tax_behavior"] == "exclusive":
                tax = (subtotal * rate * 2 + 100) // 200
                item["amount_total"] = subtotal + tax
            else:
                tax = (subtotal * rate * 2 + 100 + rate) // (200 + 2 * rate)
            item["amount_tax"] = tax
            tax_total += tax
        session["amount_total"] = sum(
            item["amount_total"] for item in self._line_items[session["id"]]
        )
        session["total_details"] = {**session["total_details"], "amount_tax": tax_total}
        session["automatic_tax"] = {
            "enabled": True,
            "liability": {"type": "self"},
            "provider": "stripe",
            "status": "complete",
        }

    def _create_invoice(self, session: dict) -> None:
        """The paid invoice Checkout makes with ``invoice_creation`` (and its guest customer)."""
        now = int(self.clock())
        invoice_id = _new_id("in_")
        customer = session["customer"] or _new_id("cus_", 14)
        paid = session["payment_status"] != "unpaid"
        tax = session["total_details"]["amount_tax"]
        total = session["amount_total"]
        token = _new_id("test_", 40)
        self.invoices[invoice_id] = {
            **_invoice_template(),
            "id": invoice_id,
            "amount_due": total,
            "amount_paid": total if paid else 0,
            "amount_remaining": 0 if paid else total,
            "created": now,
            "currency": session["currency"],
            "customer": customer,
            "customer_email": session["customer_details"]["email"],
            "customer_name": session["customer_details"]["name"],
            "effective_at": now,
            "hosted_invoice_url": f"{self.url}/i/{invoice_id}/{token}",
            "invoice_pdf": f"{self.url}/invoice/{invoice_id}/{token}/pdf",
            "metadata": dict(self._invoice_metadata[session["id"]]),
            "number": f"{session['id'][-8:].upper()}-{len(self.invoices) + 1:04d}",
            "status": "paid" if paid else "open",
            "status_transitions": {
                "finalized_at": now,
                "marked_uncollectible_at": None,
                "paid_at": now if paid else None,
                "voided_at": None,
            },
            "subtotal": session["amount_subtotal"],
            "subtotal_excluding_tax": (
                session["amount_subtotal"] - tax
                if self._tax_behavior(session) == "inclusive"
                else session["amount_subtotal"]
            ),
            "total": total,
            "total_excluding_tax": total - tax,
            "total_taxes": (
                [
                    {
                        "amount": tax,
                        "tax_behavior": self._tax_behavior(session),
                        "tax_rate_details": None,
                        "taxability_reason": "standard_rated",
                        "taxable_amount": total - tax,
                        "type": "tax_rate_details",
                    }
                ]
                if session["automatic_tax"]["enabled"]
                else []
            ),
        }
        session.update(customer=customer, invoice=invoice_id)

    def _tax_behavior(self, session: dict) -> str:
        return self._line_items[session["id"]][0]["price"]["tax_behavior"]

    def _create_payment(self, session: dict) -> str:
        """Store a PaymentIntent and its Charge for a completed session; return the intent id."""
        now = int(self.clock())
        settled = session["payment_status"] == "paid"
        intent_id, charge_id = _new_id("pi_"), _new_id("ch_")
        metadata = self._payment_metadata[session["id"]]
        self.charges[charge_id] = _charge_object(
            charge_id=charge_id,
            intent_id=intent_id,
            amount=session["amount_total"],
            currency=session["currency"],
            metadata=dict(metadata),
            email=session["customer_details"]["email"],
            settled=settled,
            now=now,
        )
        self.payment_intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": session["amount_total"] if settled else 0,
            "created": now,
            "currency": session["currency"],
            "latest_charge": charge_id,
            "livemode": False,
            "metadata": dict(metadata),
            "payment_method": self.charges[charge_id]["payment_method"],
            "payment_method_types": ["card"],
            "status": "succeeded" if settled else "processing",
        }
        return intent_id

    def _settle(self, session: dict) -> None:
        """Let a delayed payment succeed (the async_payment_succeeded moment)."""
        session["payment_status"] = "paid"
        intent = self.payment_intents[session["payment_intent"]]
        intent.update(status="succeeded", amount_received=intent["amount"])
        self.charges[intent["latest_charge"]].update(status="succeeded", paid=True)

    # ---------------------------------------------------------------- events and webhooks

    def event_for_session(
        self, session_id: str, event_type: str = "checkout.session.completed"
    ) -> dict:
        """Build a ``checkout.session.*`` event around the session's current state."""
        if event_type not in SESSION_EVENT_TYPES:
            raise ValueError(f"event_type must be one of {sorted(SESSION_EVENT_TYPES)}")
        with self._lock:
            return self._event(event_type, self.sessions[session_id])

    def event_for_charge(self, charge_id: str, event_type: str = "charge.refunded") -> dict:
        """Build a ``charge.*`` event; ``charge.refunded`` names the last refund's request."""
        if event_type not in CHARGE_EVENT_TYPES:
            raise ValueError(f"event_type must be one of {sorted(CHARGE_EVENT_TYPES)}")
        with self._lock:
            request = None
            if event_type == "charge.refunded":
                request = next(
                    (
                        self._refund_requests[refund["id"]]
                        for refund in reversed(self.refunds.values())
                        if refund["charge"] == charge_id
                    ),
                    None,
                )
            return self._event(event_type, self.charges[charge_id], request)

    def event_for_dispute(
        self,
        charge_id: str,
        *,
        reason: str = "general",
        status: str = "warning_needs_response",
    ) -> dict:
        """Open a dispute on a charge and build its ``charge.dispute.created`` event.

        The default status is an inquiry, like ``stripe trigger charge.dispute.created``.
        """
        with self._lock:
            charge = self.charges[charge_id]
            dispute = _dispute_object(_new_id("dp_"), charge, reason, status, int(self.clock()))
            self.disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            return self._event("charge.dispute.created", dispute)

    def deliver(self, event: dict | bytes) -> tuple[int, str]:
        """POST an event (a dict, or raw JSON bytes sent as they are) to ``webhook_url``.

        The body is signed with ``webhook_secret`` at the current time.  Returns the
        receiver's status and body; a 3xx is returned, not followed, as Stripe does.
        """
        if not self.webhook_url or not self.webhook_secret:
            raise RuntimeError("FakeStripe needs webhook_url and webhook_secret to deliver")
        payload = event if isinstance(event, bytes) else _dumps(event)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(payload, self.webhook_secret),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return _post(self.webhook_url, payload, headers)

    def _event(self, event_type: str, obj: dict, request: dict | None = None) -> dict:
        return {
            "id": _new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(self.clock()),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": dict(request or {"id": None, "idempotency_key": None}),
            "type": event_type,
        }

    # ---------------------------------------------------------------- HTTP entry point

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        """Record one request and answer it (or, when offline, hang up without a word)."""
        url = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode("utf-8", "replace") if length else ""
        request = RecordedRequest(
            method=handler.command,
            path=url.path,
            params={**parse_params(url.query), **parse_params(body)},
            headers={name.title(): value for name, value in handler.headers.items()},
            request_id=_new_id("req_", 14),
        )
        with self._lock:
            self._requests.append(request)
        if self.offline:
            handler.close_connection = True
            return
        if url.path.startswith("/pay/"):
            response = self._checkout_page(request)
        elif url.path.startswith(("/i/", "/invoice/")):
            response = self._invoice_page(request)
        else:
            response = self._api(request)
            if self._delay is not None:
                self._sleep(self._delay())  # outside the lock: concurrent calls wait together
        response.send(handler)

    # ---------------------------------------------------------------- the JSON API

    def _api(self, request: RecordedRequest) -> _Response:
        headers = {"Content-Type": "application/json", "Request-Id": request.request_id}
        with self._lock:
            try:
                body, replayed = self._api_locked(request)
            except _ApiError as error:
                return _Response(error.status, _dumps(error.body), headers)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return _Response(200, body, headers)

    def _api_locked(self, request: RecordedRequest) -> tuple[bytes, bool]:
        """Return the response body and whether it replays a saved one.

        As on Stripe, only requests that succeeded are saved under their Idempotency-Key;
        one rejected by validation can be retried with the same key.
        """
        failure = self._take_failure(request.path)
        if failure is not None:
            raise failure
        _authenticate(request.headers)
        key = request.idempotency_key if request.method == "POST" else None
        saved = self._idempotent.get(key) if key else None
        if saved is not None:
            return saved.replay(request), True
        body = _dumps(self._route(request))
        if key:
            self._idempotent[key] = _Saved(request.method, request.path, request.params, body)
        return body, False

    def _take_failure(self, path: str) -> _ApiError | None:
        for failure in self._failures:
            if path.startswith(failure.path_prefix):
                failure.remaining -= 1
                if failure.remaining == 0:
                    self._failures.remove(failure)
                return failure.error
        return None

    def _route(self, request: RecordedRequest) -> dict:
        for method, pattern, endpoint in self._ROUTES:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return endpoint(self, request, *match.groups())
        raise _ApiError(f"Unrecognized request URL ({request.method}: {request.path}).", status=404)

    def _create_session(self, request: RecordedRequest) -> dict:
        params = request.params
        _reject_unknown(params, _SESSION_CREATE_PARAMS)
        expand = _expansions(params, _SESSION_EXPANSIONS)
        if _string(params.get("mode"), "mode") != "payment":
            raise _ApiError("This fake only supports mode=payment.", param="mode")
        now = int(self.clock())
        items = _line_items(params.get("line_items"), now)
        intent_data = _optional_dict(params.get("payment_intent_data"), "payment_intent_data")
        invoice_creation = _optional_dict(params.get("invoice_creation"), "invoice_creation")
        invoice_data = _optional_dict(
            invoice_creation.get("invoice_data"), "invoice_creation[invoice_data]"
        )
        automatic_tax = _optional_dict(params.get("automatic_tax"), "automatic_tax")
        tax_id_collection = _optional_dict(params.get("tax_id_collection"), "tax_id_collection")
        session_id = _new_id("cs_test_", 58)
        amount = sum(item["amount_total"] for item in items)
        session = _session_template()
        session.update(
            id=session_id,
            amount_subtotal=amount,
            amount_total=amount,
            cancel_url=_url(params.get("cancel_url"), "cancel_url"),
            client_reference_id=_optional_string(
                params.get("client_reference_id"), "client_reference_id", max_length=200
            ),
            created=now,
            currency=items[0]["currency"],
            customer_email=_email(params.get("customer_email")),
            expires_at=_expires_at(params.get("expires_at"), now),
            metadata=_metadata(params.get("metadata"), "metadata"),
            success_url=_url(params.get("success_url"), "success_url"),
            url=f"{self.url}/pay/{session_id}",
        )
        if _boolean(invoice_creation.get("enabled"), "invoice_creation[enabled]"):
            session["invoice_creation"] = copy.deepcopy(session["invoice_creation"])
            session["invoice_creation"]["enabled"] = True
            session["invoice_creation"]["invoice_data"]["metadata"] = _metadata(
                invoice_data.get("metadata"), "invoice_creation[invoice_data][metadata]"
            )
        if _boolean(automatic_tax.get("enabled"), "automatic_tax[enabled]"):
            session["automatic_tax"] = {
                "enabled": True,
                "liability": {"type": "self"},
                "provider": "stripe",
                "status": "requires_location_inputs",
            }
        if tax_id_collection:
            session["tax_id_collection"] = {
                "enabled": _boolean(tax_id_collection.get("enabled"), "tax_id_collection[enabled]"),
                "required": tax_id_collection.get("required") or "never",
            }
        self._invoice_metadata[session_id] = session["invoice_creation"]["invoice_data"]["metadata"]
        self._payment_metadata[session_id] = _metadata(
            intent_data.get("metadata"), "payment_intent_data[metadata]"
        )
        self._line_items[session_id] = items
        self.sessions[session_id] = session
        return self._render_session(session, expand)

    def _list_sessions(self, request: RecordedRequest) -> dict:
        params = request.params
        _reject_unknown(params, _SESSION_LIST_PARAMS)
        expand = {
            name.removeprefix("data.")
            for name in _expansions(params, {f"data.{name}" for name in _SESSION_EXPANSIONS})
        }
        created = _created_filter(params.get("created"))
        status = params.get("status")
        if status is not None and status not in _SESSION_STATUSES:
            choices = ", ".join(_SESSION_STATUSES)
            raise _ApiError(f"status must be one of {choices}.", param="status")
        intent = params.get("payment_intent")
        sessions = [
            session
            for session in _newest_first(self.sessions.values())
            if created(session["created"])
            and status in (None, session["status"])
            and intent in (None, session["payment_intent"])
        ]
        page = _page(sessions, params, "/v1/checkout/sessions")
        page["data"] = [self._render_session(session, expand) for session in page["data"]]
        return page

    def _retrieve_session(self, request: RecordedRequest, session_id: str) -> dict:
        _reject_unknown(request.params, {"expand"})
        expand = _expansions(request.params, _SESSION_EXPANSIONS)
        return self._render_session(_lookup(self.sessions, session_id, "checkout.session"), expand)

    def _expire_session(self, request: RecordedRequest, session_id: str) -> dict:
        _reject_unknown(request.params, {"expand"})
        session = _lookup(self.sessions, session_id, "checkout.session")
        if session["status"] != "open":
            raise _ApiError(
                f'Only Checkout Sessions with a status in ["open"] can be expired. '
                f'This session has a status of "{session["status"]}".',
                param="session",
            )
        return self.expire_session(session_id)

    def _render_session(self, session: dict, expand: Iterable[str]) -> dict:
        if not expand:
            return session
        rendered = dict(session)
        if "line_items" in expand:
            rendered["line_items"] = {
                "object": "list",
                "data": self._line_items[session["id"]],
                "has_more": False,
                "url": f"/v1/checkout/sessions/{session['id']}/line_items",
            }
        if "payment_intent" in expand and session["payment_intent"]:
            rendered["payment_intent"] = self.payment_intents[session["payment_intent"]]
        if "invoice" in expand and session["invoice"]:
            rendered["invoice"] = self.invoices[session["invoice"]]
        return rendered

    def _create_refund(self, request: RecordedRequest) -> dict:
        params = request.params
        _reject_unknown(params, _REFUND_CREATE_PARAMS)
        charge = self._refundable_charge(params)
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise _ApiError(
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if any(
            dispute["charge"] == charge["id"] and dispute["status"] in _OPEN_CHARGEBACK_STATUSES
            for dispute in self.disputes.values()
        ):
            raise _ApiError(
                f"Charge {charge['id']} has been disputed; it cannot be refunded while the "
                "dispute is open.",
                code="charge_disputed",
            )
        amount = remaining
        if params.get("amount") not in (None, ""):
            amount = _integer(params["amount"], "amount", minimum=1)
        if amount > remaining:
            raise _ApiError(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining}).",
                code="amount_too_large",
                param="amount",
            )
        reason = params.get("reason") or None
        if reason not in (None, *_REFUND_REASONS):
            raise _ApiError(f"reason must be one of {', '.join(_REFUND_REASONS)}.", param="reason")
        refund = _refund_object(
            _new_id("re_"),
            charge,
            amount,
            reason,
            _metadata(params.get("metadata"), "metadata"),
            int(self.clock()),
        )
        self.refunds[refund["id"]] = refund
        self._refund_requests[refund["id"]] = {
            "id": request.request_id,
            "idempotency_key": request.idempotency_key,
        }
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return refund

    def _refundable_charge(self, params: dict) -> dict:
        if params.get("charge"):
            return _lookup(self.charges, params["charge"], "charge", param="charge")
        if params.get("payment_intent"):
            intent = _lookup(
                self.payment_intents,
                params["payment_intent"],
                "payment_intent",
                param="payment_intent",
            )
            if intent["latest_charge"] is None:
                raise _ApiError(
                    "This PaymentIntent does not have a successful charge to refund.",
                    param="payment_intent",
                )
            return self.charges[intent["latest_charge"]]
        raise _ApiError(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            code="parameter_missing",
        )

    def _list_refunds(self, request: RecordedRequest) -> dict:
        params = request.params
        _reject_unknown(params, _REFUND_LIST_PARAMS)
        created = _created_filter(params.get("created"))
        refunds = [
            refund
            for refund in _newest_first(self.refunds.values())
            if created(refund["created"])
            and params.get("charge") in (None, refund["charge"])
            and params.get("payment_intent") in (None, refund["payment_intent"])
        ]
        return _page(refunds, params, "/v1/refunds")

    def _retrieve_charge(self, request: RecordedRequest, charge_id: str) -> dict:
        _reject_unknown(request.params, ())
        return _lookup(self.charges, charge_id, "charge")

    def _retrieve_payment_intent(self, request: RecordedRequest, intent_id: str) -> dict:
        _reject_unknown(request.params, ())
        return _lookup(self.payment_intents, intent_id, "payment_intent")

    def _retrieve_invoice(self, request: RecordedRequest, invoice_id: str) -> dict:
        _reject_unknown(request.params, {"expand"})
        return _lookup(self.invoices, invoice_id, "invoice")

    _ROUTES = (
        ("POST", re.compile(r"/v1/checkout/sessions"), _create_session),
        ("GET", re.compile(r"/v1/checkout/sessions"), _list_sessions),
        ("GET", re.compile(r"/v1/checkout/sessions/([^/]+)"), _retrieve_session),
        ("POST", re.compile(r"/v1/checkout/sessions/([^/]+)/expire"), _expire_session),
        ("POST", re.compile(r"/v1/refunds"), _create_refund),
        ("GET", re.compile(r"/v1/refunds"), _list_refunds),
        ("GET", re.compile(r"/v1/charges/([^/]+)"), _retrieve_charge),
        ("GET", re.compile(r"/v1/payment_intents/([^/]+)"), _retrieve_payment_intent),
        ("GET", re.compile(r"/v1/invoices/([^/]+)"), _retrieve_invoice),
    )

    # ---------------------------------------------------------------- hosted checkout page

    def _checkout_page(self, request: RecordedRequest) -> _Response:
        """Show the payment page (GET) or pay (POST), then deliver and redirect."""
        session_id = request.path.removeprefix("/pay/").rstrip("/")
        with self._lock:
            session = self.sessions.get(session_id)
            if session is None:
                return _html_response(
                    404, "Checkout not found", "<p>This payment link is not valid.</p>"
                )
            if session["status"] != "open":
                status = 200 if request.method == "GET" else 409
                return _html_response(status, *_closed_page(session))
            if request.method == "GET":
                return _html_response(
                    200, "Checkout", _checkout_form(session, self._line_items[session_id])
                )
            self.complete_session(session_id, email=_email_or_none(request.params.get("email")))
            location = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            event = None
            if self.webhook_url:
                event = self.event_for_session(session_id, "checkout.session.completed")
        if event is not None:
            self._deliver_and_log(event)
        return _Response(303, b"", {"Location": location})

    def _invoice_page(self, request: RecordedRequest) -> _Response:
        """The hosted invoice page (``/i/<id>/<token>``) or its PDF (``…/pdf``)."""
        parts = request.path.strip("/").split("/")
        with self._lock:
            invoice = self.invoices.get(parts[1]) if len(parts) >= 3 else None
            expected = invoice and (
                invoice["invoice_pdf"] if parts[0] == "invoice" else invoice["hosted_invoice_url"]
            )
            if invoice is None or not expected.endswith(request.path):
                return _html_response(404, "Invoice not found", "<p>No such invoice.</p>")
            invoice = copy.deepcopy(invoice)
        if parts[0] == "invoice":
            headers = {"Content-Type": "application/pdf", "Cache-Control": "no-store"}
            return _Response(200, _invoice_pdf(invoice), headers)
        return _html_response(200, f"Invoice {invoice['number']}", _invoice_summary(invoice))

    def _deliver_and_log(self, event: dict) -> None:
        """Deliver from the checkout page; a failing receiver must not break the redirect."""
        try:
            status, body = self.deliver(event)
        except OSError as error:
            logger.warning("Webhook %s to %s failed: %s", event["type"], self.webhook_url, error)
            return
        if not 200 <= status < 300:
            logger.warning(
                "Webhook %s to %s answered %s: %s",
                event["type"],
                self.webhook_url,
                status,
                body[:200],
            )


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(
        self,
        address: tuple[str, int],
        respond: Callable[[BaseHTTPRequestHandler], None],
        *,
        verbose: bool,
    ) -> None:
        super().__init__(address, _Handler)
        self.respond = respond
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, is_open: bool) -> None:
        with self._connections_lock:
            if is_open:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Hang up on idle keep-alive clients, which shutdown() alone leaves connected."""
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may already have gone
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the SDK reuses its connection
    server_version = "FakeStripe/1.0"
    # Headers and body go out in two writes; with Nagle's algorithm the second one waits for
    # a delayed ACK and every request would take ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, is_open=True)

    def finish(self) -> None:
        self.server.track(self.connection, is_open=False)
        super().finish()

    def do_GET(self) -> None:
        self.server.respond(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def send(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(self.status)
        for name, value in self.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        handler.wfile.write(self.body)


class _ApiError(Exception):
    """An error answered in Stripe's shape, which the SDK maps to its exception classes."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        details = {"message": message, "type": error_type, "code": code, "param": param}
        self.body = {"error": {key: value for key, value in details.items() if value is not None}}


@dataclass(frozen=True)
class _Saved:
    """The first successful response for an Idempotency-Key."""

    method: str
    path: str
    params: dict
    body: bytes

    def replay(self, request: RecordedRequest) -> bytes:
        if (request.method, request.path, request.params) != (self.method, self.path, self.params):
            raise _ApiError(
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{request.idempotency_key}' "
                "if you meant to execute a different request.",
                error_type="idempotency_error",
            )
        return self.body


@dataclass
class _Failure:
    path_prefix: str
    error: _ApiError
    remaining: int


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST with http.client, which (unlike urllib) neither follows redirects nor uses proxies."""
    parts = urllib.parse.urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.netloc, timeout=30)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def _dumps(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + secrets.token_bytes(length).translate(_ID_TABLE).decode("ascii")


def _key_path(key: str) -> list[str]:
    """Split ``a[b][0]`` into ``["a", "b", "0"]`` (and ``expand[]`` into ``["expand", ""]``)."""
    head, bracket, rest = key.partition("[")
    if not bracket or not rest.endswith("]"):
        return [key]
    return [head, *rest[:-1].split("][")]


def _restore_lists(value: object, key: str) -> object:
    """Turn dicts keyed "0", "1", ... back into lists; metadata keys are never indexes."""
    if not isinstance(value, dict):
        return value
    items = {name: _restore_lists(item, name) for name, item in value.items()}
    if key != "metadata" and items and all(name.isdigit() for name in items):
        return [items[name] for name in sorted(items, key=int)]
    return items


def _newest_first(objects: Iterable[dict]) -> list[dict]:
    # The sort is stable, so objects created in the same second stay newest-inserted first.
    return sorted(reversed(list(objects)), key=operator.itemgetter("created"), reverse=True)


def _page(objects: list[dict], params: dict, url: str) -> dict:
    """One page of a newest-first list, in Stripe's list envelope."""
    limit = 10
    if params.get("limit") not in (None, ""):
        limit = _integer(params["limit"], "limit", minimum=1)
        if limit > 100:
            raise _ApiError("This value must be less than or equal to 100.", param="limit")
    cursor = params.get("starting_after")
    if cursor:
        ids = [obj["id"] for obj in objects]
        if cursor not in ids:
            raise _ApiError(
                f"No such object: '{cursor}'", code="resource_missing", param="starting_after"
            )
        objects = objects[ids.index(cursor) + 1 :]
    return {"object": "list", "data": objects[:limit], "has_more": len(objects) > limit, "url": url}


def _lookup(store: dict[str, dict], object_id: str, kind: str, *, param: str = "id") -> dict:
    try:
        return store[object_id]
    except KeyError:
        raise _ApiError(
            f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param
        ) from None


# --------------------------------------------------------------------------- validation


def _authenticate(headers: dict[str, str]) -> None:
    """Accept a secret or restricted key as Bearer auth (the SDK) or Basic auth (curl -u)."""
    scheme, _, key = headers.get("Authorization", "").partition(" ")
    if scheme == "Basic":
        with contextlib.suppress(ValueError):
            key = base64.b64decode(key, validate=True).decode("utf-8").partition(":")[0]
    elif scheme != "Bearer":
        key = ""
    if not key:
        raise _ApiError(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
            status=401,
            error_type="authentication_error",
        )
    if not key.startswith(("sk_", "rk_")):
        raise _ApiError(
            f"Invalid API Key provided: {key[:8]}...",
            status=401,
            error_type="authentication_error",
        )


def _missing(param: str) -> _ApiError:
    return _ApiError(f"Missing required param: {param}.", code="parameter_missing", param=param)


def _reject_unknown(params: dict, allowed: Iterable[str]) -> None:
    unknown = set(params).difference(allowed)
    if unknown:
        name = min(unknown)
        raise _ApiError(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)


def _string(value: object, param: str) -> str:
    if value is None or value == "":
        raise _missing(param)
    if not isinstance(value, str):
        raise _ApiError(f"Invalid string: {value!r}", param=param)
    return value


def _optional_string(value: object, param: str, *, max_length: int) -> str | None:
    if value is None or value == "":
        return None
    text = _string(value, param)
    if len(text) > max_length:
        raise _ApiError(f"This value must be at most {max_length} characters long.", param=param)
    return text


def _optional_dict(value: object, param: str) -> dict:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise _ApiError(f"Invalid object: {param} must be a hash.", param=param)
    return value


def _integer(value: object, param: str, *, minimum: int = 0) -> int:
    if value is None or value == "":
        raise _missing(param)
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise _ApiError(f"Invalid integer: {value}", code="parameter_invalid_integer", param=param)
    number = int(value)
    if number < minimum:
        raise _ApiError(f"This value must be greater than or equal to {minimum}.", param=param)
    return number


def _boolean(value: object, param: str) -> bool:
    if value in (None, "", "false"):
        return False
    if value == "true":
        return True
    raise _ApiError(f"Invalid boolean: {value}", param=param)


def _url(value: object, param: str) -> str:
    url = _string(value, param)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _ApiError("Not a valid URL", code="url_invalid", param=param)
    return url


def _email_or_none(value: object) -> str | None:
    if isinstance(value, str) and "@" in value.strip(" @") and " " not in value.strip():
        return value.strip()
    return None


def _email(value: object) -> str | None:
    if value is None or value == "":
        return None
    email = _email_or_none(value)
    if email is None:
        raise _ApiError(
            f"Invalid email address: {value}", code="email_invalid", param="customer_email"
        )
    return email


def _metadata(value: object, param: str) -> dict[str, str]:
    """Validate metadata as Stripe does; an empty value unsets the key."""
    metadata = _optional_dict(value, param)
    if len(metadata) > 50:
        raise _ApiError("Metadata can have up to 50 keys.", param=param)
    for key, item in metadata.items():
        if len(key) > 40 or not isinstance(item, str) or len(item) > 500:
            raise _ApiError(
                "Metadata keys can be up to 40 characters and values up to 500 characters "
                "long, and values must be strings.",
                param=f"{param}[{key}]",
            )
    return {key: item for key, item in metadata.items() if item != ""}


def _expires_at(value: object, now: int) -> int:
    if value is None or value == "":
        return now + _SESSION_MAX_LIFETIME
    expires_at = _integer(value, "expires_at")
    earliest = now + _SESSION_MIN_LIFETIME - _CLOCK_SLACK
    if not earliest <= expires_at <= now + _SESSION_MAX_LIFETIME:
        raise _ApiError(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
            "Checkout Session creation.",
            param="expires_at",
        )
    return expires_at


def _expansions(params: dict, allowed: Iterable[str]) -> set[str]:
    requested = params.get("expand") or []
    if isinstance(requested, str):
        requested = [requested]
    if not isinstance(requested, list):
        raise _ApiError("Invalid array", param="expand")
    for name in requested:
        if name not in allowed:
            raise _ApiError(f"This property cannot be expanded ({name}).", param="expand")
    return set(requested)


def _created_filter(spec: object) -> Callable[[int], bool]:
    """Build a predicate for ``created=<ts>`` or ``created[gte|gt|lte|lt]=<ts>``."""
    if spec is None:
        return lambda created: True
    if isinstance(spec, str):
        exact = _integer(spec, "created")
        return lambda created: created == exact
    if not isinstance(spec, dict):
        raise _ApiError("Invalid created filter.", param="created")
    checks = []
    for name, bound in spec.items():
        if name not in _CREATED_OPERATORS:
            raise _ApiError(
                f"Received unknown parameter: created[{name}]",
                code="parameter_unknown",
                param=f"created[{name}]",
            )
        checks.append((_CREATED_OPERATORS[name], _integer(bound, f"created[{name}]")))
    return lambda created: all(compare(created, bound) for compare, bound in checks)


def _line_items(raw: object, now: int) -> list[dict]:
    if not raw:
        raise _missing("line_items")
    if not isinstance(raw, list):
        raise _ApiError("Invalid array", param="line_items")
    items = [_line_item(entry, f"line_items[{index}]", now) for index, entry in enumerate(raw)]
    if len({item["currency"] for item in items}) > 1:
        raise _ApiError("All line items must use the same currency.", param="line_items")
    return items


def _line_item(entry: object, prefix: str, now: int) -> dict:
    """Validate one ``price_data`` line item and return it in Stripe's ``item`` shape."""
    if not isinstance(entry, dict):
        raise _ApiError("Invalid object", param=prefix)
    if entry.get("price"):
        # Only inline prices exist in this fake, so every Price id is unknown.
        raise _ApiError(
            f"No such price: '{entry['price']}'", code="resource_missing", param=f"{prefix}[price]"
        )
    price_data = entry.get("price_data")
    if not isinstance(price_data, dict):
        raise _missing(f"{prefix}[price_data]")
    currency = _string(price_data.get("currency"), f"{prefix}[price_data][currency]").lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise _ApiError(f"Invalid currency: {currency}", param=f"{prefix}[price_data][currency]")
    unit_amount = _integer(price_data.get("unit_amount"), f"{prefix}[price_data][unit_amount]")
    product_data = price_data.get("product_data")
    if not isinstance(product_data, dict):
        raise _missing(f"{prefix}[price_data][product_data]")
    name = _string(product_data.get("name"), f"{prefix}[price_data][product_data][name]")
    quantity = _integer(entry.get("quantity"), f"{prefix}[quantity]", minimum=1)
    tax_behavior = price_data.get("tax_behavior") or "unspecified"
    if tax_behavior not in _TAX_BEHAVIORS:
        raise _ApiError(
            f"Invalid tax_behavior: must be one of {', '.join(_TAX_BEHAVIORS)}",
            param=f"{prefix}[price_data][tax_behavior]",
        )
    return {
        "id": _new_id("li_"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": unit_amount * quantity,
        "amount_tax": 0,
        "amount_total": unit_amount * quantity,
        "currency": currency,
        "description": name,
        "price": {
            "id": _new_id("price_"),
            "object": "price",
            "active": False,
            "billing_scheme": "per_unit",
            "created": now,
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": _new_id("prod_", 14),
            "recurring": None,
            "tax_behavior": tax_behavior,
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        },
        "quantity": quantity,
    }


# --------------------------------------------------------------------------- object shapes


def _session_template() -> dict:
    """A fresh open Checkout Session with the fields of the reference payloads."""
    return {
        "id": None,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": 0,
        "amount_total": 0,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": None,
        "client_reference_id": None,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": 0,
        "currency": None,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_creation": "if_required",
        "customer_details": None,
        "customer_email": None,
        "discounts": [],
        "expires_at": 0,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": None,
        "metadata": {},
        "mode": "payment",
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
        "wallet_options": None,
    }


def _invoice_template() -> dict:
    """The fields of a paid one-off invoice that Checkout created (API 2025-03-31.basil)."""
    return {
        "id": None,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Example Courses",
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "attempt_count": 0,
        "attempted": True,
        "auto_advance": False,
        "billing_reason": "manual",
        "collection_method": "charge_automatically",
        "created": 0,
        "currency": None,
        "customer": None,
        "customer_email": None,
        "customer_name": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "description": None,
        "effective_at": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "livemode": False,
        "metadata": {},
        "number": None,
        "paid_out_of_band": False,
        "receipt_number": None,
        "status": "draft",
        "status_transitions": {},
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "total": 0,
        "total_excluding_tax": 0,
        "total_taxes": [],
    }


def _address() -> dict:
    return {
        "city": "South San Francisco",
        "country": "US",
        "line1": "354 Oyster Point Blvd",
        "line2": None,
        "postal_code": "94080",
        "state": "CA",
    }


def _customer_details(email: str) -> dict:
    return {
        "address": _address(),
        "email": email,
        "name": "Jenny Rosen",
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def _charge_object(
    *,
    charge_id: str,
    intent_id: str,
    amount: int,
    currency: str,
    metadata: dict,
    email: str,
    settled: bool,
    now: int,
) -> dict:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "balance_transaction": _new_id("txn_"),
        "billing_details": {
            "address": _address(),
            "email": email,
            "name": "Jenny Rosen",
            "phone": None,
            "tax_id": None,
        },
        "captured": True,
        "created": now,
        "currency": currency,
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": metadata,
        "outcome": {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": settled,
        "payment_intent": intent_id,
        "payment_method": _new_id("pm_"),
        "payment_method_details": {
            "card": {
                "brand": "visa",
                "country": "US",
                "exp_month": 8,
                "exp_year": 2030,
                "funding": "credit",
                "last4": "4242",
                "network": "visa",
            },
            "type": "card",
        },
        "receipt_email": None,
        "refunded": False,
        "status": "succeeded" if settled else "pending",
    }


def _refund_object(
    refund_id: str, charge: dict, amount: int, reason: str | None, metadata: dict, now: int
) -> dict:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": _new_id("txn_"),
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "metadata": metadata,
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


# A chargeback under way blocks refunds (an inquiry, ``warning_*``, does not).
_OPEN_CHARGEBACK_STATUSES = frozenset({"needs_response", "under_review"})


def _dispute_object(dispute_id: str, charge: dict, reason: str, status: str, now: int) -> dict:
    inquiry = status.startswith("warning_")
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": charge["amount"],
        "balance_transactions": [],
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "evidence": {**dict.fromkeys(_DISPUTE_EVIDENCE_FIELDS), "enhanced_evidence": {}},
        "evidence_details": {
            "due_by": now + 14 * 24 * 60 * 60,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": charge["amount_refunded"] < charge["amount"],
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": "visa",
                "case_type": "inquiry" if inquiry else "chargeback",
                "network": "visa",
                "network_reason_code": "10.4",
            },
            "type": "card",
        },
        "reason": reason,
        "status": status,
    }


# --------------------------------------------------------------------------- HTML pages

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Fake Stripe Checkout</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;
line-height:1.5}}button{{font-size:1rem;padding:.5rem 2rem}}</style>
</head>
<body>
<main>
<p>Test mode: this is a fake Stripe checkout and no real payment is taken.</p>
<h1>{title}</h1>
{content}
</main>
</body>
</html>
"""


def _html_response(status: int, title: str, content: str) -> _Response:
    page = _PAGE.format(title=html.escape(title), content=content)
    headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    return _Response(status, page.encode("utf-8"), headers)


def _checkout_form(session: dict, items: list[dict]) -> str:
    """The order summary, the e-mail (shown, or asked for) and the Pay button."""
    currency = session["currency"]
    rows = "\n".join(
        f"<li>{html.escape(item['description'])}"
        + (f" &times; {item['quantity']}" if item["quantity"] > 1 else "")
        + f": {format_amount(item['amount_total'], currency)}</li>"
        for item in items
    )
    if session["customer_email"]:
        email = f"<p>E-mail: <strong>{html.escape(session['customer_email'])}</strong></p>"
    else:
        email = (
            '<p><label for="email">E-mail</label>\n'
            '<input id="email" name="email" type="email" autocomplete="email" required></p>'
        )
    action = html.escape(f"/pay/{session['id']}")
    return (
        f"<h2>Order summary</h2>\n<ul>\n{rows}\n</ul>\n"
        f"<p>Total due: <strong>{format_amount(session['amount_total'], currency)}</strong></p>\n"
        f'<form method="post" action="{action}">\n{email}\n'
        '<button type="submit">Pay</button>\n</form>\n'
        f'<p><a href="{html.escape(session["cancel_url"])}">Cancel</a></p>'
    )


def _invoice_summary(invoice: dict) -> str:
    currency = invoice["currency"]
    taxes = sum(tax["amount"] for tax in invoice["total_taxes"])
    return (
        f"<p>Billed to {html.escape(invoice['customer_email'] or '')}</p>\n"
        f"<p>Status: {html.escape(invoice['status'])}</p>\n"
        f"<p>Subtotal: {format_amount(invoice['subtotal'], currency)}</p>\n"
        f"<p>Tax: {format_amount(taxes, currency)}</p>\n"
        f"<p>Total: <strong>{format_amount(invoice['total'], currency)}</strong></p>\n"
        f'<p><a href="{html.escape(invoice["invoice_pdf"])}">Download PDF</a></p>'
    )


def _invoice_pdf(invoice: dict) -> bytes:
    """A one-page PDF naming the invoice (enough for a browser to open it)."""
    text = f"Invoice {invoice['number']} total {invoice['total']} {invoice['currency']}"
    text = text.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body


def _closed_page(session: dict) -> tuple[str, str]:
    """Title and content for a session that can no longer be paid."""
    back = f'<p><a href="{html.escape(session["cancel_url"])}">Back to the shop</a></p>'
    if session["status"] == "expired":
        return (
            "Checkout expired",
            "<p>This checkout session has expired. Nothing was charged; please start "
            f"again from the shop.</p>\n{back}",
        )
    done = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
    return (
        "Already paid",
        "<p>This checkout session is already complete.</p>\n"
        f'<p><a href="{html.escape(done)}">See your order</a></p>',
    )


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Stripe API in the foreground.")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", help="where POST /pay/<id> delivers events")
    parser.add_argument("--webhook-secret", help="the whsec_... secret that signs deliveries")
    parser.add_argument(
        "--latency", default="off", help='API answer delay: "250,p99=900,max=1000" (off)'
    )
    args = parser.parse_args(argv)
    if args.webhook_url and not args.webhook_secret:
        parser.error("--webhook-url needs --webhook-secret")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    FakeStripe(
        args.webhook_url,
        args.webhook_secret,
        port=args.port,
        verbose=True,
        latency=Latency.parse(args.latency),
    ).serve_forever()


if __name__ == "__main__":
    main()
