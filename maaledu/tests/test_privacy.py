"""Privacy: a buyer's e-mail never reaches the logs, affiliates see masked buyers only, payment
card details are never stored, and secrets come from the environment only."""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core import mail, serializers
from django.test import Client

from affiliates.models import Commission
from common.logging import KeyValueFormatter, RequestIdFilter
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment, StripeEvent
from fakes.frappe_server import FakeFrappe
from fakes.stripe_server import sign
from lms_sync import selectors as lms_selectors
from lms_sync.models import LmsSyncJob

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
BUYER = "Privacy.Buyer@Example.com"
OUR_LOGGERS = (
    "maaledu",
    "accounts",
    "courses",
    "enrollments",
    "grants",
    "affiliates",
    "lms_sync",
    "ops",
    "fakes",
)


class Capture(logging.Handler):
    """Every record that reaches the root logger, and its line as production writes it."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.formatter_ = KeyValueFormatter()
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record):
        self.records.append(record)
        self.lines.append(self.formatter_.format(record))


@pytest.fixture
def captured_logs():
    root = logging.getLogger()
    capture, level = Capture(), root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


@pytest.fixture
def fake_frappe(settings):
    with FakeFrappe(api_key="key", api_secret="secret", site="lms.test") as server:
        settings.FRAPPE_URL = server.url
        settings.FRAPPE_API_KEY = "key"
        settings.FRAPPE_API_SECRET = "secret"
        settings.FRAPPE_HOST_HEADER = server.site
        settings.FRAPPE_READ_TIMEOUT = 5.0
        yield server


def _spellings(email: str) -> list[str]:
    local, domain = email.split("@")
    return [email, email.lower(), f"{local.lower()}%40{domain.lower()}", local.lower()]


def test_a_full_purchase_never_writes_the_buyers_email_to_the_logs(
    world, fake_stripe, fake_frappe, captured_logs, django_capture_on_commit_callbacks
):
    # Given: a course mapped to the (fake) LMS, and a buyer who followed an affiliate's link.
    course = CourseFactory(slug="privacy-course", frappe_course="privacy-course", price_cents=9900)
    fake_frappe.add_course("privacy-course")
    buyer = Client()
    buyer.get("/courses/", {"ref": world.affiliate.referral_code})

    # When: checkout → Stripe → webhook → confirmation e-mail → LMS enrolment.
    started = buyer.post(f"/courses/{course.slug}/checkout/", {"email": BUYER})
    assert started.status_code == 303
    enrollment = Enrollment.objects.get(course=course)
    fake_stripe.complete_session(enrollment.stripe_session_id)
    payload = json.dumps(fake_stripe.event_for_session(enrollment.stripe_session_id)).encode()
    with django_capture_on_commit_callbacks(execute=True):
        delivered = buyer.post(
            "/webhooks/stripe/",
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": sign(payload, "whsec_test_maaledu")},
        )
    success = buyer.get(f"/checkout/success/?session_id={enrollment.stripe_session_id}")

    # Then: the purchase really went through every step…
    assert delivered.status_code == 200
    assert success.status_code == 200
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID
    assert lms_selectors.current_job(enrollment.pk).status == LmsSyncJob.Status.SYNCED
    assert [message.to for message in mail.outbox] == [[BUYER.lower()]]
    assert Commission.objects.filter(sale_id=enrollment.pk).exists()
    text = "\n".join(captured_logs.lines)
    assert "event=payment.fulfilled" in text
    assert "event=checkout.created" in text

    # …and no log line, as written by the production formatter, holds the address.
    for spelling in _spellings(BUYER)[:3]:
        assert spelling not in text, f"{spelling!r} in the logs"
    # Our own code logs ids, never the address (the formatter's masking is the safety net).
    own = [
        record.getMessage()
        for record in captured_logs.records
        if record.name.split(".")[0] in OUR_LOGGERS
    ]
    assert own
    leaks = [line for line in own if any(s in line for s in _spellings(BUYER)[:3])]
    assert not leaks, leaks


def test_the_affiliate_sees_the_buyer_masked(world):
    page = world.client_for("affiliate").get("/affiliates/dashboard/").text

    assert "l***@example.com" in page  # learner.one@example.com bought through the link
    assert world.learner.email not in page
    # The affiliate's own payout address is masked too.
    assert "a***@example.com" in page
    assert world.affiliate.paypal_email not in page


def test_commissions_store_the_buyer_masked_only(world):
    for commission in Commission.objects.all():
        assert re.fullmatch(r"[^@*]\*\*\*@[^@]+", commission.buyer_email_masked)
    assert not any(field.name == "buyer_email" for field in Commission._meta.get_fields())


# --- Payment details are never stored ---------------------------------------------------------

CARD_FIELD = re.compile(
    r"(^|_)(card|cards|pan|cvc|cvv|cvc2|cvv2|exp_month|exp_year|expiry|security_code|"
    r"cardholder|card_number|last4|track_data)(_|$)"
)


def test_the_card_field_pattern_recognises_card_fields():
    for name in ("card_number", "cvc", "exp_month", "last4", "pan", "card", "cardholder_name"):
        assert CARD_FIELD.search(name), name
    for name in ("company", "expires_at", "panel", "discount_cents", "scan"):
        assert not CARD_FIELD.search(name), name


def test_no_model_has_a_payment_card_field():
    offenders = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if CARD_FIELD.search(field.name.lower())
    ]

    assert not offenders


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


def test_no_stored_row_holds_a_card_number_or_security_code(world, fake_stripe):
    # A purchase and its webhook, so the Stripe payloads we keep are in the database too.
    course = CourseFactory(slug="card-course")
    buyer = Client()
    buyer.post(f"/courses/{course.slug}/checkout/", {"email": "card.buyer@example.com"})
    enrollment = Enrollment.objects.get(course=course)
    fake_stripe.complete_session(enrollment.stripe_session_id)
    payload = json.dumps(fake_stripe.event_for_session(enrollment.stripe_session_id)).encode()
    buyer.post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, "whsec_test_maaledu")},
    )
    assert StripeEvent.objects.exists()

    dump = "".join(
        serializers.serialize("json", model._default_manager.all())
        for model in apps.get_models()
        if not model._meta.proxy
    )
    # A run of digits inside a word is no card number: MongoDB's ObjectIds are hex, and now
    # and then one holds 13 digits in a row that pass the Luhn check (seen: "3368518072713").
    card_numbers = [run for run in re.findall(r"(?<!\w)\d{13,19}(?!\w)", dump) if _luhn_ok(run)]
    assert not card_numbers
    assert not re.search(r'"(cvc|cvv|cvc2|cvv2|card_number|number)"\s*:', dump)


# --- Secrets come from the environment --------------------------------------------------------

SECRET_SETTINGS = (
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "FRAPPE_API_KEY",
    "FRAPPE_API_SECRET",
    "SENDGRID_API_KEY",
    "METRICS_TOKEN",
    "SENTRY_DSN",
    "DEMO_ADMIN_PASSWORD",
)


def _production_settings(extra_env: dict[str, str]) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("DJANGO_", "STRIPE_", "FRAPPE_", "SENDGRID_", "METRICS_", "SENTRY_", "DEMO_")
        )
    }
    env.update(DJANGO_SETTINGS_MODULE="maaledu.settings.production", **extra_env)
    names = [*SECRET_SETTINGS, "SECRET_KEY"]
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{k: getattr(s, k) for k in {names!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_has_no_secret_it_did_not_get_from_the_environment():
    values = _production_settings(
        {"DJANGO_SECRET_KEY": "from-the-environment-" + "x" * 40, "DJANGO_ALLOWED_HOSTS": "x"}
    )

    assert values.pop("SECRET_KEY") == "from-the-environment-" + "x" * 40
    hard_coded = {name: value for name, value in values.items() if value}
    assert not hard_coded, f"production settings carry built-in secrets: {sorted(hard_coded)}"


def test_production_secrets_are_read_from_the_environment():
    values = _production_settings(
        {
            "DJANGO_SECRET_KEY": "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "x",
            "STRIPE_SECRET_KEY": "sk_env",
            "STRIPE_WEBHOOK_SECRET": "whsec_env",
            "FRAPPE_API_KEY": "fk_env",
            "FRAPPE_API_SECRET": "fs_env",
            "METRICS_TOKEN": "mt_env",
        }
    )

    assert values["STRIPE_SECRET_KEY"] == "sk_env"
    assert values["STRIPE_WEBHOOK_SECRET"] == "whsec_env"
    assert values["FRAPPE_API_KEY"] == "fk_env"
    assert values["FRAPPE_API_SECRET"] == "fs_env"
    assert values["METRICS_TOKEN"] == "mt_env"


def test_settings_modules_hold_no_live_credentials():
    pattern = re.compile(r"sk_live_|rk_live_|whsec_[A-Za-z0-9]{20,}|SG\.[\w-]{10,}|-----BEGIN")
    for module in ("base.py", "production.py"):
        source = (BASE_DIR / "maaledu" / "settings" / module).read_text()
        assert not pattern.search(source), module


def test_the_env_file_is_never_committed():
    ignored = (BASE_DIR / ".gitignore").read_text().split()
    assert ".env" in ignored
    tracked = subprocess.run(
        ["git", "ls-files", ".env", "*.env", "**/.env"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tracked.returncode == 0
    assert tracked.stdout.strip() == ""
