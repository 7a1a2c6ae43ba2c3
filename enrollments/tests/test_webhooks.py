import json
import time

import pytest
from django.core import mail
from django.test import Client

from common import outbox
from common.testing.concurrency import concurrent_database, race  # noqa: F401 - a fixture
from enrollments.models import Enrollment, StripeEvent
from enrollments.services import emails
from enrollments.tasks import after_payment
from enrollments.tests.conftest import FIXTURES, fixture_event, post_event
from enrollments.tests.factories import EnrollmentFactory
from lms_sync import selectors as lms_selectors

from .conftest import lms_action

pytestmark = pytest.mark.django_db

SESSION_A = "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY"
PAYMENT_INTENT_A = "pi_1PgafyB7WZ01zgkWSjxsAJo3"


@pytest.fixture
def session_a_enrollment():
    """The enrollment that fixture session A (3000 usd, paid) belongs to."""
    return EnrollmentFactory(
        stripe_session_id=SESSION_A,
        list_price_cents=3000,
        amount_due_cents=3000,
        currency="usd",
        course__price_cents=3000,
    )


def completed_event(enrollment):
    event = fixture_event("checkout.session.completed")
    event["data"]["object"]["client_reference_id"] = str(enrollment.pk)
    event["data"]["object"]["metadata"] = {"enrollment_id": str(enrollment.pk)}
    return event


def test_signature_vector_from_the_reference_verifies_when_tolerance_is_off():
    import stripe

    vector = json.loads((FIXTURES / "signature-vector.json").read_text())
    payload = (FIXTURES / vector["payload_file"]).read_bytes()

    stripe.WebhookSignature.verify_header(
        payload.decode(), vector["header_with_test_mode_v0"], vector["secret"], tolerance=None
    )
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.WebhookSignature.verify_header(
            payload.decode(), vector["header"], vector["secret"], tolerance=300
        )


def test_paid_session_event_fulfils_the_enrollment_once_with_one_email(
    client, session_a_enrollment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, completed_event(session_a_enrollment))

    assert response.status_code == 200
    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.PAID
    assert enrollment.paid_at is not None
    assert enrollment.stripe_payment_intent_id == PAYMENT_INTENT_A
    assert lms_selectors.current_job(enrollment.pk).action == "enrol"  # lms_sync made its job
    assert outbox.sent_at(emails.confirmation_key(enrollment.pk)) is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [enrollment.email]
    assert "$30.00" in mail.outbox[0].body
    event = StripeEvent.objects.get()
    assert (event.outcome, event.result, event.attempts) == (
        StripeEvent.Outcome.PROCESSED,
        "fulfilled",
        1,
    )


def test_a_payment_publishes_one_message_whose_worker_does_the_rest(
    client, session_a_enrollment, django_capture_on_commit_callbacks, monkeypatch
):
    """The request pays for one publish; the worker announces the payment (the LMS job), sends
    the confirmation and starts the invoice fetch."""
    published = []
    monkeypatch.setattr(
        "common.queue.enqueue", lambda task, *args: published.append((task.name, args)) or True
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, completed_event(session_a_enrollment)).status_code == 200

    assert published == [("enrollments.tasks.after_payment", (session_a_enrollment.pk,))]
    assert mail.outbox == [] and lms_selectors.current_job(session_a_enrollment.pk) is None

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        after_payment.delay(session_a_enrollment.pk)

    assert lms_selectors.current_job(session_a_enrollment.pk).action == "enrol"
    assert outbox.sent_at(emails.confirmation_key(session_a_enrollment.pk)) is not None
    assert [m.to for m in mail.outbox] == [[session_a_enrollment.email]]


def test_repeated_event_id_is_acknowledged_and_changes_nothing(
    client, session_a_enrollment, django_capture_on_commit_callbacks
):
    event = completed_event(session_a_enrollment)
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, event)
    Enrollment.objects.update(paid_at=None)  # would be set again if it were reprocessed

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_event(client, event)

    assert response.status_code == 200
    assert response.json() == {"status": "duplicate"}
    assert callbacks == []
    assert Enrollment.objects.get().paid_at is None
    assert StripeEvent.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "tamper",
    [
        "bad_signature",
        "wrong_secret",
        "stale_timestamp",
        "missing_header",
        "garbage_body",
        "not_an_event",
    ],
)
def test_forged_stale_or_garbage_webhooks_get_400_and_store_nothing(
    client, session_a_enrollment, tamper
):
    payload = json.dumps(completed_event(session_a_enrollment)).encode()
    headers = {}
    if tamper == "bad_signature":
        headers = {"Stripe-Signature": f"t={int(time.time())},v1={'0' * 64}"}
    elif tamper == "wrong_secret":
        from fakes.stripe_server import sign

        headers = {"Stripe-Signature": sign(payload, "whsec_attacker")}
    elif tamper == "stale_timestamp":
        from fakes.stripe_server import sign

        headers = {"Stripe-Signature": sign(payload, "whsec_test_maaledu", int(time.time()) - 600)}
    elif tamper == "garbage_body":
        from fakes.stripe_server import sign

        payload = b"\xff\xfe not json {"
        headers = {"Stripe-Signature": sign(b"x", "whsec_test_maaledu")}
    elif tamper == "not_an_event":
        response = post_event(client, b'{"id": 1, "data": []}')
        assert response.status_code == 400
        assert StripeEvent.objects.count() == 0
        return

    response = client.post(
        "/webhooks/stripe/", data=payload, content_type="application/json", headers=headers
    )

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_webhook_rejects_bodies_over_the_size_limit(client, settings):
    settings.STRIPE_WEBHOOK_MAX_BYTES = 1000

    response = post_event(client, b"{" + b" " * 2000 + b"}")

    assert response.status_code == 413
    assert StripeEvent.objects.count() == 0


def test_webhook_needs_no_csrf_token_but_only_accepts_post(session_a_enrollment):
    csrf_client = Client(enforce_csrf_checks=True)

    assert post_event(csrf_client, completed_event(session_a_enrollment)).status_code == 200
    assert csrf_client.get("/webhooks/stripe/").status_code == 405


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("concurrent_database")
def test_same_event_delivered_8_times_concurrently_fulfils_once_with_one_email():
    enrollment = EnrollmentFactory(
        stripe_session_id=SESSION_A,
        list_price_cents=3000,
        amount_due_cents=3000,
        course__price_cents=3000,
    )
    payload = json.dumps(completed_event(enrollment)).encode()

    statuses = race(lambda: post_event(Client(), payload).status_code, 8)

    assert statuses == [200] * 8
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID
    assert StripeEvent.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("concurrent_database")
def test_distinct_events_for_one_session_racing_fulfil_once():
    """completed and async_payment_succeeded (different event ids) at the same moment."""
    enrollment = EnrollmentFactory(
        stripe_session_id=SESSION_A,
        list_price_cents=3000,
        amount_due_cents=3000,
        course__price_cents=3000,
    )
    events = []
    for n in range(8):
        event = completed_event(enrollment)
        event["id"] = f"evt_race_{n}"
        events.append(json.dumps(event).encode())

    results = race(lambda payload: post_event(Client(), payload).json()["status"], args=events)

    assert sorted(results).count("fulfilled") == 1
    assert len(mail.outbox) == 1


def test_unpaid_async_completion_waits_then_async_success_fulfils(client):
    unpaid = fixture_event("checkout.session.completed.unpaid_async")
    succeeded = fixture_event("checkout.session.async_payment_succeeded")
    session = unpaid["data"]["object"]
    enrollment = EnrollmentFactory(
        stripe_session_id=session["id"],
        list_price_cents=session["amount_total"],
        amount_due_cents=session["amount_total"],
        currency=session["currency"],
    )

    post_event(client, unpaid)
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PENDING
    assert enrollment.expires_at is None  # held open until the bank answers

    post_event(client, succeeded)
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID


def test_async_payment_failure_marks_failed_and_tells_the_learner(
    client, django_capture_on_commit_callbacks
):
    event = fixture_event("checkout.session.async_payment_failed")
    session = event["data"]["object"]
    enrollment = EnrollmentFactory(stripe_session_id=session["id"])

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, event)

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.FAILED
    assert len(mail.outbox) == 1 and "did not go through" in mail.outbox[0].subject


def test_expired_session_expires_the_pending_enrollment(client):
    event = fixture_event("checkout.session.expired")
    enrollment = EnrollmentFactory(stripe_session_id=event["data"]["object"]["id"])

    post_event(client, event)

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.EXPIRED


def test_expired_after_completed_leaves_the_enrollment_paid(client, session_a_enrollment):
    expired = fixture_event("checkout.session.expired")
    expired["data"]["object"]["id"] = SESSION_A

    post_event(client, completed_event(session_a_enrollment))
    post_event(client, expired)

    session_a_enrollment.refresh_from_db()
    assert session_a_enrollment.status == Enrollment.Status.PAID


def test_completed_after_expired_still_fulfils_because_the_money_was_taken(
    client, session_a_enrollment
):
    expired = fixture_event("checkout.session.expired")
    expired["data"]["object"]["id"] = SESSION_A

    post_event(client, expired)
    post_event(client, completed_event(session_a_enrollment))

    session_a_enrollment.refresh_from_db()
    assert session_a_enrollment.status == Enrollment.Status.PAID


def test_amount_mismatch_is_flagged_for_staff_and_not_fulfilled(client):
    enrollment = EnrollmentFactory(
        stripe_session_id=SESSION_A,
        list_price_cents=4990,
        amount_due_cents=4990,
        course__price_cents=4990,
    )

    response = post_event(client, completed_event(enrollment))

    enrollment.refresh_from_db()
    assert response.status_code == 200
    assert enrollment.status == Enrollment.Status.PENDING
    assert enrollment.needs_review
    assert "Amount mismatch" in enrollment.review_reason
    assert StripeEvent.objects.get().result == "amount_mismatch"


def test_currency_mismatch_is_flagged_too(client):
    enrollment = EnrollmentFactory(
        stripe_session_id=SESSION_A,
        list_price_cents=3000,
        amount_due_cents=3000,
        currency="eur",
        course__currency="eur",
        course__price_cents=3000,
    )

    post_event(client, completed_event(enrollment))

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PENDING and enrollment.needs_review


def test_full_refund_after_paid_marks_refunded_and_queues_lms_removal(
    client, session_a_enrollment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, completed_event(session_a_enrollment))

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, fixture_event("charge.refunded"))

    session_a_enrollment.refresh_from_db()
    assert session_a_enrollment.status == Enrollment.Status.REFUNDED
    assert session_a_enrollment.amount_refunded_cents == 3000
    assert lms_action(session_a_enrollment) == "unenrol"
    job = lms_selectors.current_job(session_a_enrollment.pk)  # lms_sync heard the revocation
    assert job.action == "unenrol" and job.status in lms_selectors.OPEN_STATUSES


def test_partial_refund_records_the_amount_and_keeps_access(client, session_a_enrollment):
    post_event(client, completed_event(session_a_enrollment))
    partial = fixture_event("charge.refunded")
    partial["id"] = "evt_partial_refund"
    partial["data"]["object"].update(amount_refunded=1000, refunded=False)

    post_event(client, partial)

    session_a_enrollment.refresh_from_db()
    assert session_a_enrollment.status == Enrollment.Status.PAID
    assert session_a_enrollment.amount_refunded_cents == 1000
    assert lms_action(session_a_enrollment) == "enrol"


def test_an_older_partial_refund_event_never_lowers_the_recorded_refund(
    client, session_a_enrollment
):
    post_event(client, completed_event(session_a_enrollment))
    post_event(client, fixture_event("charge.refunded"))
    older = fixture_event("charge.refunded")
    older["id"] = "evt_older_partial"
    older["data"]["object"].update(amount_refunded=1000, refunded=False)

    post_event(client, older)

    session_a_enrollment.refresh_from_db()
    assert session_a_enrollment.amount_refunded_cents == 3000
    assert session_a_enrollment.status == Enrollment.Status.REFUNDED


def test_refund_arriving_before_completion_ends_as_if_in_order(client, session_a_enrollment):
    refund = fixture_event("charge.refunded")
    refund["data"]["object"]["metadata"] = {"enrollment_id": str(session_a_enrollment.pk)}

    post_event(client, refund)
    post_event(client, completed_event(session_a_enrollment))

    session_a_enrollment.refresh_from_db()
    assert session_a_enrollment.status == Enrollment.Status.REFUNDED
    assert session_a_enrollment.amount_refunded_cents == 3000


def test_dispute_flags_the_enrollment_for_staff(client):
    event = fixture_event("charge.dispute.created")
    dispute = event["data"]["object"]
    enrollment = EnrollmentFactory(
        status=Enrollment.Status.PAID, stripe_payment_intent_id=dispute["payment_intent"]
    )

    post_event(client, event)

    enrollment.refresh_from_db()
    assert enrollment.needs_review
    assert dispute["id"] in enrollment.review_reason
    assert enrollment.status == Enrollment.Status.PAID


def test_other_event_types_are_stored_and_acknowledged(client):
    event = fixture_event("checkout.session.expired")
    event.update(id="evt_other", type="customer.created")

    response = post_event(client, event)

    assert response.status_code == 200
    assert StripeEvent.objects.get().outcome == StripeEvent.Outcome.IGNORED


def test_event_for_an_unknown_session_is_recorded_without_error(client):
    response = post_event(client, fixture_event("checkout.session.completed"))

    assert response.status_code == 200
    assert StripeEvent.objects.get().result == "unknown_session"


@pytest.mark.parametrize(
    "reference",
    [
        "not-a-key",
        "987654321",
        "0",
        "9" * 30,
        "0123456789abcdef01234567",
        "ffffffffffffffffffffffff",
    ],
)
def test_a_client_reference_that_is_no_key_of_ours_is_an_unknown_session(
    client, session_a_enrollment, reference
):
    """An integer on MongoDB, an ObjectId on SQL, garbage anywhere: parsed to None or to a key
    no enrollment has, never a 500 (``pk_or_none`` through the pk field's ``to_python``)."""
    event = fixture_event("checkout.session.completed")
    event["data"]["object"].update(id="cs_test_never_saved", client_reference_id=reference)
    event["data"]["object"]["metadata"] = {"enrollment_id": reference}

    response = post_event(client, event)

    assert response.status_code == 200
    assert StripeEvent.objects.get().result == "unknown_session"
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_a_session_we_never_saved_is_found_by_its_client_reference(client, session_a_enrollment):
    event = completed_event(session_a_enrollment)
    Enrollment.objects.filter(pk=session_a_enrollment.pk).update(stripe_session_id=None)

    assert post_event(client, event).json() == {"status": "fulfilled"}

    session_a_enrollment.refresh_from_db()
    assert session_a_enrollment.stripe_session_id == SESSION_A
    assert session_a_enrollment.status == Enrollment.Status.PAID


@pytest.mark.parametrize(
    "body",
    [
        b"[1,2,3]",
        b"null",
        b'"evt"',
        b"42",
        b'{"id": "evt_x", "type": "charge.refunded", "created": -1, "livemode": false,'
        b' "data": {"object": {}}}',
        b'{"id": "evt_x", "type": "charge.refunded", "created": "soon", "livemode": false,'
        b' "data": {"object": {}}}',
        b'{"id": "evt_x", "type": "charge.refunded", "created": 1750104002, "livemode": "no",'
        b' "data": {"object": {}}}',
        b'{"id": ["evt_x"], "type": "charge.refunded", "created": 1750104002,'
        b' "livemode": false, "data": {"object": {}}}',
        b'{"id": "evt_x", "type": "charge.refunded", "created": 1750104002,'
        b' "livemode": false, "data": {"object": "ch_1"}}',
        b'{"id": "evt_x", "type": "' + b"t" * 101 + b'", "data": {"object": {}}}',
        b'{"id": "evt_\\ud800", "type": "charge.refunded", "data": {"object": {}}}',
        b'{"id": "evt_x", "type": "charge.refunded", "data": {"object": {"m": "\\udfff"}}}',
    ],
)
def test_signed_bodies_that_are_not_stripe_events_get_400_and_store_nothing(client, body):
    response = post_event(client, body)

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("event_name", "field", "value"),
    [
        ("charge.refunded", "metadata", "enrollment_id=1"),
        ("charge.refunded", "metadata", {"enrollment_id": 1}),
        ("charge.refunded", "amount_refunded", "3000"),
        ("charge.refunded", "payment_intent", ["pi_1"]),
        ("checkout.session.completed", "amount_total", "3000"),
        ("checkout.session.completed", "amount_total", True),
        ("checkout.session.completed", "client_reference_id", {"id": 1}),
        ("checkout.session.completed", "metadata", "x"),
        ("charge.dispute.created", "metadata", "x"),
        ("charge.dispute.created", "payment_intent", 12),
    ],
)
def test_signed_events_with_wrongly_typed_fields_are_kept_as_ignored_with_the_reason(
    client, session_a_enrollment, event_name, field, value
):
    event = fixture_event(event_name)
    event["data"]["object"][field] = value

    response = post_event(client, event)

    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    assert (stored.outcome, stored.result) == (StripeEvent.Outcome.IGNORED, "refused")
    assert f"data.object.{field}" in stored.error
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_an_unhandled_event_with_odd_fields_is_kept_as_ignored(client):
    event = fixture_event("checkout.session.expired")
    event.update(id="evt_customer", type="customer.created")
    event["data"]["object"] = {"id": None, "metadata": 1}

    response = post_event(client, event)

    assert response.json() == {"status": "ignored"}
    assert StripeEvent.objects.get().outcome == StripeEvent.Outcome.IGNORED


def test_nul_characters_are_dropped_but_a_literal_backslash_u0000_is_kept(client):
    """jsonb holds no NUL, so the stored copy drops real NUL characters; the text
    ``C:\\u0000`` (a backslash, then ``u0000``) is no NUL and must come through unchanged."""
    event = fixture_event("checkout.session.expired")
    event.update(id="evt_customer_nul", type="customer.created")
    event["data"]["object"] = {"id": "cus_1", "name": "Ada\x00", "note": "C:\\u0000"}

    response = post_event(client, event)

    assert response.json() == {"status": "ignored"}
    stored = StripeEvent.objects.get().payload["data"]["object"]
    assert (stored["name"], stored["note"]) == ("Ada", "C:\\u0000")


def test_an_integer_beyond_64_bits_is_kept_as_text_and_the_event_refused(
    client, session_a_enrollment
):
    """MongoDB holds no integer past 64 bits: the stored copy keeps it as its digits, and the
    field read with the wrong type refuses the event, on every database (never a 500)."""
    event = fixture_event("checkout.session.completed")
    event["data"]["object"]["amount_total"] = -(2**70)
    event["data"]["object"]["note"] = 2**63 - 1  # the largest that fits stays a number

    response = post_event(client, event)

    assert response.json() == {"status": "refused"}
    stored = StripeEvent.objects.get()
    assert stored.payload["data"]["object"]["amount_total"] == str(-(2**70))
    assert stored.payload["data"]["object"]["note"] == 2**63 - 1
    assert "data.object.amount_total" in stored.error
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_a_live_mode_event_is_refused_on_a_test_key_and_kept_with_the_reason(
    client, session_a_enrollment
):
    event = completed_event(session_a_enrollment)
    event["livemode"] = True

    response = post_event(client, event)

    assert response.status_code == 200
    assert response.json() == {"status": "refused"}
    stored = StripeEvent.objects.get()
    assert stored.outcome == StripeEvent.Outcome.IGNORED
    assert "live-mode event" in stored.error and "test key" in stored.error
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_a_test_mode_event_is_refused_on_a_live_key(client, session_a_enrollment, settings):
    settings.STRIPE_SECRET_KEY = "sk_live_maaledu"

    response = post_event(client, completed_event(session_a_enrollment))

    assert response.json() == {"status": "refused"}
    assert "test-mode event" in StripeEvent.objects.get().error
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


@pytest.mark.parametrize("seconds_ahead", [301, 3600])
def test_a_signature_dated_beyond_the_tolerance_in_the_future_is_refused(
    client, session_a_enrollment, seconds_ahead
):
    response = post_event(
        client,
        completed_event(session_a_enrollment),
        timestamp=int(time.time()) + seconds_ahead,
    )

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0
    assert Enrollment.objects.get().status == Enrollment.Status.PENDING


def test_a_signature_a_little_ahead_of_our_clock_is_accepted(client, session_a_enrollment):
    response = post_event(
        client, completed_event(session_a_enrollment), timestamp=int(time.time()) + 60
    )

    assert response.json() == {"status": "fulfilled"}
