import json
import os
import subprocess
import sys
from pathlib import Path

import sentry_sdk
from sentry_sdk.transport import Transport

from common.logging import request_id_var
from ops.sentry import FILTERED, before_send

BASE_DIR = Path(__file__).resolve().parents[2]
SECRETS = [
    "jane.doe@example.com",
    "jane.doe%40example.com",
    "sk_live_51HxYzAbCdEf",
    "whsec_AbCdEf123456",
    "t=1717000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
    "frappe-key-123:frappe-secret-456",
    "eyJhbGciOiJIUzI1NiJ9.payload.sig",
    "hunter2-password",
    "sessionid-value-abc",
    "Jenny Rosen",
    "+1 555 0100",
]


def django_error_event() -> dict:
    """An event shaped like the one DjangoIntegration sends for a failing webhook request."""
    return {
        "level": "error",
        "exception": {
            "values": [
                {
                    "type": "IntegrityError",
                    "value": 'duplicate key value violates unique constraint "enrollment_one_paid"'
                    "\nDETAIL:  Key (email, course_id)=(jane.doe@example.com, 3) already exists.",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "_call_frappe",
                                "module": "lms_sync.services",
                                "vars": {
                                    "api_key": "frappe-key-123",
                                    "FRAPPE_API_SECRET": "frappe-secret-456",
                                    "headers": {
                                        "Authorization": "token frappe-key-123:frappe-secret-456"
                                    },
                                    "email": "'jane.doe@example.com'",
                                    "course": "'kubernetes-admin'",
                                },
                            }
                        ]
                    },
                }
            ]
        },
        "request": {
            "url": "https://maaledu.example.com/webhooks/stripe/",
            "method": "POST",
            "query_string": "email=jane.doe%40example.com&token=eyJhbGciOiJIUzI1NiJ9.payload.sig",
            "headers": {
                "Content-Type": "application/json",
                "Stripe-Signature": "t=1717000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e"
                "56ff536d0ce8e108d8bd",
                "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
                "Cookie": "sessionid=sessionid-value-abc; csrftoken=abc",
                "X-Forwarded-For": "203.0.113.9",
            },
            "cookies": {"sessionid": "sessionid-value-abc"},
            "data": {
                "id": "evt_1",
                "type": "checkout.session.completed",
                "data": {
                    "object": {
                        "id": "cs_test_1",
                        "customer_email": "jane.doe@example.com",
                        "customer_details": {
                            "email": "jane.doe@example.com",
                            "name": "Jenny Rosen",
                            "phone": "+1 555 0100",
                        },
                        "amount_total": 3000,
                    }
                },
            },
        },
        "extra": {"stripe_key": "sk_live_51HxYzAbCdEf", "password": "hunter2-password"},
        "breadcrumbs": {
            "values": [
                {
                    "category": "maaledu.request",
                    "message": "event=signup email=jane.doe@example.com password=hunter2-password",
                },
                {
                    "category": "httplib",
                    "data": {"url": "https://api.stripe.com/v1/checkout/sessions"},
                    "message": "Stripe key sk_live_51HxYzAbCdEf, webhook secret whsec_AbCdEf123456",
                },
            ]
        },
        "tags": {"transaction": "enrollments:stripe_webhook"},
    }


def test_before_send_removes_emails_and_secrets_from_every_part_of_the_event():
    scrubbed = before_send(django_error_event(), {})

    text = json.dumps(scrubbed)
    for secret in SECRETS:
        assert secret not in text, secret


def test_before_send_keeps_what_is_needed_to_debug():
    scrubbed = before_send(django_error_event(), {})

    request = scrubbed["request"]
    assert request["headers"]["Stripe-Signature"] == FILTERED
    assert request["headers"]["Authorization"] == FILTERED
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["cookies"] == FILTERED
    session = request["data"]["data"]["object"]
    assert session["customer_details"] == FILTERED
    assert session["customer_email"] == FILTERED
    assert (session["id"], session["amount_total"]) == ("cs_test_1", 3000)
    assert request["query_string"] == "email=[email]&token=[Filtered]"
    exception = scrubbed["exception"]["values"][0]
    assert "(email, course_id)=([email], 3)" in exception["value"]
    frame = exception["stacktrace"]["frames"][0]
    assert frame["function"] == "_call_frappe"
    assert frame["vars"]["course"] == "'kubernetes-admin'"
    assert frame["vars"]["api_key"] == FILTERED
    assert frame["vars"]["headers"]["Authorization"] == FILTERED
    crumbs = scrubbed["breadcrumbs"]["values"]
    assert crumbs[0]["message"] == "event=signup email=[email] password=[Filtered]"
    assert crumbs[1]["message"] == "Stripe key [Filtered], webhook secret [Filtered]"
    assert crumbs[1]["data"]["url"] == "https://api.stripe.com/v1/checkout/sessions"


def test_before_send_tags_the_event_with_the_request_id():
    token = request_id_var.set("req-7f3a")
    try:
        inside = before_send({"message": "boom"}, {})
    finally:
        request_id_var.reset(token)
    outside = before_send({"message": "boom"}, {})

    assert inside["tags"] == {"request_id": "req-7f3a"}
    assert "tags" not in outside


class CapturingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events = []

    def capture_envelope(self, envelope):
        self.events.extend(item.payload.json for item in envelope.items if item.type == "event")


def test_an_exception_captured_by_the_sdk_leaves_scrubbed_with_its_local_variables():
    transport = CapturingTransport()
    client = sentry_sdk.Client(
        dsn="https://public@sentry.invalid/1",
        transport=transport,
        before_send=before_send,
        default_integrations=False,
        auto_enabling_integrations=False,
    )

    def enrol(email):
        stripe_key = "sk_live_51HxYzAbCdEf"  # noqa: F841 (a local variable Sentry records)
        raise ValueError(f"Frappe refused {email}")

    with sentry_sdk.isolation_scope() as scope:
        scope.set_client(client)
        try:
            enrol("jane.doe@example.com")
        except ValueError:
            scope.capture_exception()
    client.flush()

    assert len(transport.events) == 1
    text = json.dumps(transport.events[0])
    assert "Frappe refused [email]" in text
    assert "jane.doe@example.com" not in text
    assert "sk_live_51HxYzAbCdEf" not in text


def _sentry_state_at_startup(**env) -> dict:
    script = (
        "import json, django, sentry_sdk; django.setup(); c = sentry_sdk.get_client(); "
        "print(json.dumps({'active': c.is_active(), 'pii': c.options.get('send_default_pii'), "
        "'env': c.options.get('environment'), 'hook': getattr(c.options.get('before_send'), "
        "'__module__', None)}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "maaledu.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_sentry_starts_only_when_a_dsn_is_set_and_then_with_the_scrubbing_hook():
    off = _sentry_state_at_startup(SENTRY_DSN="")
    on = _sentry_state_at_startup(
        SENTRY_DSN="https://public@sentry.invalid/1", SENTRY_ENVIRONMENT="staging"
    )

    assert off["active"] is False
    assert on == {"active": True, "pii": False, "env": "staging", "hook": "ops.sentry"}
