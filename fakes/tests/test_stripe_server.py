"""The fake Stripe server, driven through the real stripe SDK wherever the SDK can reach it."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import stripe

from fakes.stripe_server import FakeStripe, format_amount, parse_params, sign

DATA = Path(__file__).parent / "data"
WEBHOOK_SECRET = "whsec_test_fake_stripe"

# /work/shared/reference/stripe/signature-vector.json, computed over the exact bytes of
# data/checkout.session.completed.json.
VECTOR_SECRET = "whsec_reference_fixture_secret_not_a_real_key"
VECTOR_TIMESTAMP = 1750000164
VECTOR_HEADER = "t=1750000164,v1=4a840978aa8a49ee9e4ebf8286fce4931dd7a017250128fc4ddb50c84b538990"


class Clock:
    """A settable clock, so tests control ``created`` without sleeping."""

    def __init__(self, now=1_750_000_000):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def fake(clock):
    with FakeStripe(clock=clock) as server:
        yield server


@pytest.fixture
def client(fake):
    return stripe.StripeClient("sk_test_x", base_addresses={"api": fake.url}, max_network_retries=0)


def session_params(**overrides):
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 4990,
                    "product_data": {"name": "Django for Designers"},
                },
                "quantity": 1,
            }
        ],
        "success_url": "http://shop.test/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://shop.test/checkout/cancelled/",
        "customer_email": "ada@example.com",
        "client_reference_id": "12",
        "metadata": {"enrollment_id": "12"},
        "payment_intent_data": {"metadata": {"enrollment_id": "12"}},
    }
    params.update(overrides)
    return params


def paid_charge(fake, client):
    session = client.v1.checkout.sessions.create(session_params())
    fake.complete_session(session.id)
    intent_id = fake.sessions[session.id]["payment_intent"]
    return intent_id, fake.payment_intents[intent_id]["latest_charge"]


class WebhookReceiver:
    """A stand-in for the app's webhook endpoint that records what it receives."""

    def __init__(self, status=200):
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "/elsewhere/")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/stripe/"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    webhook = WebhookReceiver()
    yield webhook
    webhook.close()


# --------------------------------------------------------------------------- form decoding


def test_parse_params_rebuilds_the_sdk_nesting():
    encoded = (
        "line_items[0][price_data][unit_amount]=4990&line_items[0][quantity]=1"
        "&line_items[1][quantity]=2&metadata[enrollment_id]=12&metadata[0]=zero"
        "&expand[]=line_items&expand[]=payment_intent&mode=payment"
    )

    assert parse_params(encoded) == {
        "line_items": [{"price_data": {"unit_amount": "4990"}, "quantity": "1"}, {"quantity": "2"}],
        "metadata": {"enrollment_id": "12", "0": "zero"},
        "expand": ["line_items", "payment_intent"],
        "mode": "payment",
    }


def test_format_amount():
    assert format_amount(4990, "eur") == "€49.90"
    assert format_amount(123456, "chf") == "1,234.56 CHF"
    assert format_amount(500, "jpy") == "500 JPY"


# --------------------------------------------------------------------------- checkout sessions


def test_create_session_returns_an_open_session_and_records_the_request(fake, client):
    session = client.v1.checkout.sessions.create(
        session_params(), options={"idempotency_key": "enrollment-12-checkout"}
    )

    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert (session.amount_subtotal, session.amount_total, session.currency) == (4990, 4990, "eur")
    assert session.customer_email == "ada@example.com"
    assert session.client_reference_id == "12"
    assert session.metadata.to_dict() == {"enrollment_id": "12"}
    assert session.expires_at == session.created + 86400 == 1_750_086_400
    assert session.url == f"{fake.url}/pay/{session.id}"
    assert session.payment_intent is None
    assert "line_items" not in session
    recorded = fake.requests[-1]
    assert (recorded.method, recorded.path) == ("POST", "/v1/checkout/sessions")
    assert recorded.params["line_items"][0]["price_data"]["unit_amount"] == "4990"
    assert recorded.idempotency_key == "enrollment-12-checkout"
    assert recorded.headers["Authorization"] == "Bearer sk_test_x"


def test_same_idempotency_key_replays_the_first_response_byte_for_byte(fake, client):
    options = {"idempotency_key": "enrollment-12-checkout"}
    first = client.v1.checkout.sessions.create(session_params(), options=options)
    again = client.v1.checkout.sessions.create(session_params(), options=options)

    assert again.id == first.id
    assert again.last_response.body == first.last_response.body
    assert again.last_response.code == 200
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert list(fake.sessions) == [first.id]


def test_same_idempotency_key_with_other_params_is_an_idempotency_error(fake, client):
    options = {"idempotency_key": "enrollment-12-checkout"}
    client.v1.checkout.sessions.create(session_params(), options=options)

    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.checkout.sessions.create(session_params(customer_email="b@x.io"), options=options)

    assert raised.value.http_status == 400
    assert raised.value.error.type == "idempotency_error"
    assert len(fake.sessions) == 1


def test_a_rejected_request_is_not_saved_under_its_idempotency_key(client):
    options = {"idempotency_key": "retry-after-fixing"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(session_params(mode="setup"), options=options)

    assert client.v1.checkout.sessions.create(session_params(), options=options).status == "open"


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"mode": "subscription"}, "mode"),
        ({"success_url": None}, "success_url"),
        ({"cancel_url": "not a url"}, "cancel_url"),
        ({"line_items": []}, "line_items"),
        ({"customer_email": "nobody"}, "customer_email"),
        ({"metadata": {"k": "v" * 501}}, "metadata[k]"),
        ({"expires_at": 1_750_000_060}, "expires_at"),
        ({"shiping_address_collection": "auto"}, "shiping_address_collection"),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": -1,
                            "product_data": {"name": "X"},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items[0][price_data][unit_amount]",
        ),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": 100,
                            "product_data": {"name": ""},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items[0][price_data][product_data][name]",
        ),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": 100,
                            "product_data": {"name": "X"},
                        }
                    }
                ]
            },
            "line_items[0][quantity]",
        ),
    ],
)
def test_invalid_session_params_are_invalid_request_errors(fake, client, overrides, param):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(session_params(**overrides))

    assert raised.value.http_status == 400
    assert raised.value.error.type == "invalid_request_error"
    assert raised.value.param == param
    assert fake.sessions == {}


@pytest.mark.parametrize("api_key", ["pk_test_x", "nonsense"])
def test_requests_need_a_secret_key(fake, api_key):
    client = stripe.StripeClient(api_key, base_addresses={"api": fake.url}, max_network_retries=0)

    with pytest.raises(stripe.AuthenticationError) as raised:
        client.v1.checkout.sessions.list()

    assert raised.value.http_status == 401


def test_missing_authorization_header_is_401(fake):
    response = requests.get(f"{fake.url}/v1/checkout/sessions", timeout=5)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_retrieve_expands_line_items(client):
    created = client.v1.checkout.sessions.create(session_params())

    plain = client.v1.checkout.sessions.retrieve(created.id)
    session = client.v1.checkout.sessions.retrieve(created.id, {"expand": ["line_items"]})

    assert "line_items" not in plain
    assert session.line_items.object == "list"
    (item,) = session.line_items.data
    assert item.object == "item"
    assert (item.description, item.quantity, item.amount_total) == ("Django for Designers", 1, 4990)
    assert (item.price.unit_amount, item.price.currency) == (4990, "eur")


def test_retrieve_unknown_session_is_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.retrieve("cs_test_nope")

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"


def test_list_filters_on_created_and_paginates_newest_first(fake, client, clock):
    ids = []
    for created in (1000, 2000, 3000, 4000):
        clock.now = 1_750_000_000 + created
        ids.append(client.v1.checkout.sessions.create(session_params()).id)
    fake.expire_session(ids[3])

    first = client.v1.checkout.sessions.list({"limit": 2})
    second = client.v1.checkout.sessions.list({"limit": 2, "starting_after": first.data[-1].id})
    window = client.v1.checkout.sessions.list(
        {"created": {"gte": 1_750_002_000, "lte": 1_750_003_000}}
    )
    open_ones = client.v1.checkout.sessions.list({"status": "open", "limit": 1})

    assert [s.id for s in first.data] == [ids[3], ids[2]]
    assert first.has_more is True
    assert first.url == "/v1/checkout/sessions"
    assert [s.id for s in second.data] == [ids[1], ids[0]]
    assert second.has_more is False
    assert [s.id for s in window.data] == [ids[2], ids[1]]
    assert [s.id for s in open_ones.auto_paging_iter()] == [ids[2], ids[1], ids[0]]
    assert fake.requests[-1].params == {"status": "open", "limit": "1", "starting_after": ids[1]}


def test_list_rejects_a_limit_over_100(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.list({"limit": 101})

    assert raised.value.param == "limit"


def test_expire_works_only_on_open_sessions(fake, client):
    session = client.v1.checkout.sessions.create(session_params())

    expired = client.v1.checkout.sessions.expire(session.id)

    assert (expired.status, expired.url) == ("expired", None)
    assert fake.sessions[session.id]["status"] == "expired"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.expire(session.id)
    assert raised.value.http_status == 400


# --------------------------------------------------------------------------- failure injection


def test_fail_next_answers_with_a_stripe_api_error_then_recovers(fake, client):
    fake.fail_next(count=2)

    for _ in range(2):
        with pytest.raises(stripe.APIError) as raised:
            client.v1.checkout.sessions.create(session_params())
        assert raised.value.http_status == 500
    assert client.v1.checkout.sessions.create(session_params()).status == "open"


def test_fail_next_can_inject_client_errors_on_other_paths(fake, client):
    intent_id, _ = paid_charge(fake, client)
    fake.fail_next(400, "invalid_request_error", "Nope.", code="x", path_prefix="/v1/refunds")

    client.v1.checkout.sessions.list()  # other paths are unaffected
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": intent_id})

    assert (raised.value.user_message, raised.value.code) == ("Nope.", "x")


def test_an_injected_failure_is_not_replayed_for_its_idempotency_key(fake, client):
    options = {"idempotency_key": "retry-me"}
    fake.fail_next(503)
    with pytest.raises(stripe.APIError):
        client.v1.checkout.sessions.create(session_params(), options=options)

    assert client.v1.checkout.sessions.create(session_params(), options=options).status == "open"


def test_offline_drops_connections(fake, client):
    client.v1.checkout.sessions.list()  # leaves a keep-alive connection in the SDK's pool
    fake.offline = True

    with pytest.raises(stripe.APIConnectionError):
        client.v1.checkout.sessions.list()

    fake.offline = False
    client.v1.checkout.sessions.list()


def test_a_stopped_server_is_a_connection_error(fake, client):
    client.v1.checkout.sessions.list()
    fake.stop()

    with pytest.raises(stripe.APIConnectionError):
        client.v1.checkout.sessions.list()


def test_reset_forgets_everything(fake, client):
    client.v1.checkout.sessions.create(session_params(), options={"idempotency_key": "k"})
    fake.fail_next()

    fake.reset()

    assert (fake.sessions, fake.requests) == ({}, [])
    assert client.v1.checkout.sessions.list().data == []


# --------------------------------------------------------------------------- payments and refunds


def test_complete_session_creates_a_payment_with_the_payment_intent_metadata(fake, client):
    created = client.v1.checkout.sessions.create(session_params())

    fake.complete_session(created.id)
    session = client.v1.checkout.sessions.retrieve(created.id, {"expand": ["payment_intent"]})

    assert (session.status, session.payment_status, session.url) == ("complete", "paid", None)
    assert session.customer_details.email == "ada@example.com"
    assert session.payment_intent.status == "succeeded"
    assert session.payment_intent.metadata.to_dict() == {"enrollment_id": "12"}
    charge = client.v1.charges.retrieve(session.payment_intent.latest_charge)
    assert (charge.amount, charge.paid) == (4990, True)
    assert charge.payment_intent == session.payment_intent.id
    assert charge.metadata.to_dict() == {"enrollment_id": "12"}
    with pytest.raises(ValueError, match="not open"):
        fake.complete_session(created.id)


def test_a_delayed_payment_completes_unpaid_and_settles_later(fake, client):
    created = client.v1.checkout.sessions.create(session_params())

    fake.complete_session(created.id, payment_status="unpaid")
    completed = fake.event_for_session(created.id, "checkout.session.completed")
    fake.complete_session(created.id)
    succeeded = fake.event_for_session(created.id, "checkout.session.async_payment_succeeded")

    assert completed["data"]["object"]["payment_status"] == "unpaid"
    assert succeeded["data"]["object"]["payment_status"] == "paid"
    intent = fake.payment_intents[succeeded["data"]["object"]["payment_intent"]]
    assert intent["status"] == "succeeded"
    assert fake.charges[intent["latest_charge"]]["status"] == "succeeded"


def test_a_charge_with_an_open_chargeback_refuses_refunds_but_an_inquiry_does_not(fake, client):
    intent_id, charge_id = paid_charge(fake, client)
    fake.event_for_dispute(charge_id)  # an inquiry
    partial = client.v1.refunds.create({"payment_intent": intent_id, "amount": 100})
    fake.event_for_dispute(charge_id, status="needs_response")

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create({"payment_intent": intent_id, "amount": 100})

    assert partial.amount == 100
    assert (refused.value.http_status, refused.value.code) == (400, "charge_disputed")
    assert client.v1.charges.retrieve(charge_id).amount_refunded == 100


def test_refunds_partial_then_full_update_the_charge(fake, client):
    intent_id, charge_id = paid_charge(fake, client)

    partial = client.v1.refunds.create(
        {"payment_intent": intent_id, "amount": 1000, "reason": "requested_by_customer"},
        options={"idempotency_key": "refund-1"},
    )
    replay = client.v1.refunds.create(
        {"payment_intent": intent_id, "amount": 1000, "reason": "requested_by_customer"},
        options={"idempotency_key": "refund-1"},
    )
    after_partial = client.v1.charges.retrieve(charge_id)
    rest = client.v1.refunds.create({"charge": charge_id})
    after_full = client.v1.charges.retrieve(charge_id)

    assert partial.id.startswith("re_")
    assert (partial.status, partial.amount, partial.currency) == ("succeeded", 1000, "eur")
    assert (partial.charge, partial.payment_intent) == (charge_id, intent_id)
    assert replay.id == partial.id
    assert (after_partial.amount_refunded, after_partial.refunded) == (1000, False)
    assert rest.amount == 3990
    assert (after_full.amount_refunded, after_full.refunded) == (4990, True)
    listed = client.v1.refunds.list({"payment_intent": intent_id})
    assert [refund.id for refund in listed.data] == [rest.id, partial.id]


def test_refunding_more_than_is_left_is_rejected(fake, client):
    intent_id, charge_id = paid_charge(fake, client)

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create({"payment_intent": intent_id, "amount": 5000})
    client.v1.refunds.create({"payment_intent": intent_id})
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create({"payment_intent": intent_id})

    assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount")
    assert again.value.code == "charge_already_refunded"
    assert fake.charges[charge_id]["amount_refunded"] == 4990


def test_refund_for_an_unknown_payment_intent_is_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": "pi_nope"})

    assert (raised.value.code, raised.value.param) == ("resource_missing", "payment_intent")


# --------------------------------------------------------------------------- events and webhooks


def test_session_events_use_the_reference_envelope(fake, client):
    session = client.v1.checkout.sessions.create(session_params())
    fake.complete_session(session.id)

    event = fake.event_for_session(session.id, "checkout.session.completed")

    reference = json.loads((DATA / "checkout.session.completed.json").read_bytes())
    assert list(event) == list(reference)
    assert event["id"].startswith("evt_")
    assert (event["object"], event["api_version"]) == ("event", "2025-03-31.basil")
    assert (event["livemode"], event["pending_webhooks"]) == (False, 1)
    assert event["request"] == {"id": None, "idempotency_key": None}
    assert event["data"]["object"] == fake.sessions[session.id]
    assert set(event["data"]["object"]) == set(reference["data"]["object"])
    assert "line_items" not in event["data"]["object"]


def test_charge_refunded_event_names_the_refund_request(fake, client):
    intent_id, charge_id = paid_charge(fake, client)
    client.v1.refunds.create({"payment_intent": intent_id}, options={"idempotency_key": "r-1"})

    event = fake.event_for_charge(charge_id, "charge.refunded")

    assert event["type"] == "charge.refunded"
    assert event["data"]["object"]["refunded"] is True
    assert event["request"]["idempotency_key"] == "r-1"
    assert event["request"]["id"] == fake.requests[-1].request_id


def test_dispute_event_points_at_the_charge_and_payment_intent(fake, client):
    intent_id, charge_id = paid_charge(fake, client)

    event = fake.event_for_dispute(charge_id)

    dispute = event["data"]["object"]
    assert event["type"] == "charge.dispute.created"
    assert (dispute["object"], dispute["status"]) == ("dispute", "warning_needs_response")
    assert (dispute["charge"], dispute["payment_intent"], dispute["amount"]) == (
        charge_id,
        intent_id,
        4990,
    )
    assert fake.charges[charge_id]["disputed"] is True


def test_sign_verifies_with_the_sdk():
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "ping"}).encode()

    event = stripe.Webhook.construct_event(payload, sign(payload, WEBHOOK_SECRET), WEBHOOK_SECRET)

    assert event.id == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign(payload, "whsec_other"), WEBHOOK_SECRET)


def test_sign_reproduces_the_reference_vector():
    payload = (DATA / "checkout.session.completed.json").read_bytes()

    header = sign(payload, VECTOR_SECRET, timestamp=VECTOR_TIMESTAMP)

    assert header == VECTOR_HEADER
    assert stripe.Webhook.construct_event(payload, header, VECTOR_SECRET, tolerance=None).id
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(payload, header, VECTOR_SECRET)


def test_deliver_posts_a_signed_compact_event(receiver, clock):
    with FakeStripe(receiver.url, WEBHOOK_SECRET, clock=clock) as fake:
        api = stripe.StripeClient("sk_test_x", base_addresses={"api": fake.url})
        session = api.v1.checkout.sessions.create(session_params())
        fake.complete_session(session.id)
        event = fake.event_for_session(session.id, "checkout.session.completed")

        assert fake.deliver(event) == (200, "ok")

    headers, body = receiver.received[0]
    assert body == json.dumps(event, separators=(",", ":")).encode()
    verified = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], WEBHOOK_SECRET)
    assert verified.data.object.id == session.id


def test_deliver_does_not_follow_redirects():
    redirecting = WebhookReceiver(status=301)
    try:
        with FakeStripe(redirecting.url, WEBHOOK_SECRET) as fake:
            status, _ = fake.deliver(b'{"id": "evt_raw"}')
    finally:
        redirecting.close()

    assert status == 301
    assert [body for _, body in redirecting.received] == [b'{"id": "evt_raw"}']


# --------------------------------------------------------------------------- hosted checkout page


def test_checkout_page_shows_the_order_and_paying_redirects_after_the_webhook(receiver):
    with FakeStripe(receiver.url, WEBHOOK_SECRET) as fake:
        api = stripe.StripeClient("sk_test_x", base_addresses={"api": fake.url})
        session = api.v1.checkout.sessions.create(session_params())

        page = requests.get(session.url, timeout=5)
        paid = requests.post(session.url, allow_redirects=False, timeout=5)
        after = requests.get(session.url, timeout=5)

        assert page.status_code == 200
        assert "Django for Designers" in page.text
        assert "€49.90" in page.text
        assert "ada@example.com" in page.text
        assert '<button type="submit">Pay</button>' in page.text
        assert '<a href="http://shop.test/checkout/cancelled/">Cancel</a>' in page.text
        assert paid.status_code == 303
        assert paid.headers["Location"] == (
            f"http://shop.test/checkout/success/?session_id={session.id}"
        )
        assert fake.sessions[session.id]["payment_status"] == "paid"
        assert "already complete" in after.text

    ((headers, body),) = receiver.received
    event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], WEBHOOK_SECRET)
    assert (event.type, event.data.object.id) == ("checkout.session.completed", session.id)


def test_checkout_page_asks_for_an_email_when_none_was_given(fake, client):
    session = client.v1.checkout.sessions.create(session_params(customer_email=None))

    page = requests.get(session.url, timeout=5)
    form = {"email": "grace@example.com"}
    requests.post(session.url, data=form, allow_redirects=False, timeout=5)

    assert '<label for="email">E-mail</label>' in page.text
    assert fake.sessions[session.id]["customer_details"]["email"] == "grace@example.com"


def test_checkout_page_for_an_expired_session_says_so(fake, client):
    session = client.v1.checkout.sessions.create(session_params())
    fake.expire_session(session.id)

    page = requests.get(session.url, timeout=5)
    paid = requests.post(session.url, allow_redirects=False, timeout=5)

    assert "has expired" in page.text
    assert paid.status_code == 409
    assert fake.sessions[session.id]["status"] == "expired"


# --- invoice_creation and Stripe Tax ----------------------------------------------------------


def test_invoice_creation_makes_a_paid_invoice_with_hosted_page_and_pdf(fake, client):
    params = session_params(
        invoice_creation={"enabled": True, "invoice_data": {"metadata": {"enrollment_id": "12"}}}
    )
    session = client.v1.checkout.sessions.create(params=params)
    assert session.invoice is None and session.invoice_creation.enabled is True

    completed = fake.complete_session(session.id)
    invoice = client.v1.invoices.retrieve(completed["invoice"])

    assert invoice.status == "paid" and invoice.object == "invoice"
    assert (invoice.total, invoice.amount_paid, invoice.currency) == (4990, 4990, "eur")
    assert invoice.metadata.to_dict() == {"enrollment_id": "12"}
    assert invoice.customer == completed["customer"] and invoice.customer.startswith("cus_")
    page = requests.get(invoice.hosted_invoice_url, timeout=5)
    assert page.status_code == 200 and "€49.90" in page.text
    pdf = requests.get(invoice.invoice_pdf, timeout=5)
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert requests.get(invoice.hosted_invoice_url + "x", timeout=5).status_code == 404
    expanded = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["invoice"]})
    assert expanded.invoice.id == invoice.id


def test_without_invoice_creation_no_invoice_is_made(fake, client):
    session = client.v1.checkout.sessions.create(params=session_params())

    assert fake.complete_session(session.id)["invoice"] is None
    assert fake.invoices == {}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.retrieve("in_missing")


@pytest.mark.parametrize(
    ("behavior", "subtotal", "tax", "total"),
    [("inclusive", 4990, 832, 4990), ("exclusive", 4990, 998, 5988)],
)
def test_automatic_tax_puts_the_tax_inside_or_on_top_of_the_price(
    fake, client, behavior, subtotal, tax, total
):
    fake.tax_rate_percent = 20
    params = session_params(automatic_tax={"enabled": True}, tax_id_collection={"enabled": True})
    params["line_items"][0]["price_data"]["tax_behavior"] = behavior
    session = client.v1.checkout.sessions.create(params=params)
    assert session.automatic_tax.status == "requires_location_inputs"
    assert session.tax_id_collection.enabled is True

    completed = fake.complete_session(session.id)

    assert (completed["amount_subtotal"], completed["amount_total"]) == (subtotal, total)
    assert completed["total_details"]["amount_tax"] == tax
    assert completed["automatic_tax"]["status"] == "complete"
    charge = next(iter(fake.charges.values()))
    assert charge["amount"] == total


def test_an_unknown_tax_behavior_is_refused_like_stripe(client):
    params = session_params()
    params["line_items"][0]["price_data"]["tax_behavior"] = "sometimes"

    with pytest.raises(stripe.InvalidRequestError, match="tax_behavior"):
        client.v1.checkout.sessions.create(params=params)
