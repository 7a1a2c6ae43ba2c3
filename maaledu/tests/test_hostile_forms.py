"""Hypothesis fuzzing of the forms test_hostile_input.py does not cover (staff refunds, the ops
page's buttons, allauth's account pages, the admin's change forms) and of the webhook's
top-level event fields: typed-wrong, repeated, oversized and non-UTF-8 values. Never a server
error, and a refused form changes nothing."""

import json
import uuid

import pytest
from allauth.account.models import EmailAddress
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from affiliates.models import Affiliate, Commission, Payout
from courses.models import Course
from enrollments.models import Enrollment, RefundRequest, StripeEvent
from fakes.stripe_server import sign
from grants.models import Grant
from lms_sync.models import LmsSyncJob
from maaledu.tests.test_hostile_input import (
    FUZZ,
    WEBHOOK_SECRET,
    any_text,
    client_for,
    form_data,
    quiet_limits,
    shows_an_error,
)

pytestmark = pytest.mark.django_db
# Twelve forms, most of them admin pages: fewer examples each keeps the file under a minute.
FUZZ_FORMS = hypothesis_settings(FUZZ, max_examples=15)

MODELS = (
    User,
    EmailAddress,
    Course,
    Grant,
    Affiliate,
    Commission,
    Payout,
    Enrollment,
    RefundRequest,
    StripeEvent,
    LmsSyncJob,
)


def snapshot() -> dict:
    """Every row the forms below could change."""
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in MODELS}


def model_fields(model) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.concrete_fields if field.name != "id")


# name: (path, who posts, the fields its form knows)
TARGETS = {
    "staff refund": (
        lambda world: f"/admin/enrollments/enrollment/{world.enrollment.pk}/refund/",
        "staff",
        ("amount", "reason", "revoke_access", "restore_coupon", "confirmed_total_cents"),
    ),
    "ops: retry LMS syncs": (lambda world: "/admin/ops/lms/retry/", "staff", ("enrollment_id",)),
    "ops: reprocess events": (
        lambda world: "/admin/ops/stripe-events/reprocess/",
        "staff",
        ("event_id",),
    ),
    "account e-mails": (
        lambda world: "/accounts/email/",
        "learner",
        ("email", "action_add", "action_remove", "action_primary", "action_send"),
    ),
    "password change": (
        lambda world: "/accounts/password/change/",
        "learner",
        ("oldpassword", "password1", "password2"),
    ),
    "grant notes (admin)": (
        lambda world: f"/admin/grants/grant/{world.other_grant.pk}/change/",
        "staff",
        ("admin_notes", "_save", "_continue"),
    ),
    "course (admin add)": (
        lambda world: "/admin/courses/course/add/",
        "staff",
        (*model_fields(Course), "_save"),
    ),
    "affiliate (admin change)": (
        lambda world: f"/admin/affiliates/affiliate/{world.affiliate.pk}/change/",
        "staff",
        (*model_fields(Affiliate), "_save"),
    ),
    "user (admin change)": (
        lambda world: f"/admin/accounts/user/{world.other_learner.pk}/change/",
        "staff",
        ("email", "is_active", "is_staff", "groups", "_save"),
    ),
    "logout": (lambda world: "/accounts/logout/", "learner", ("next",)),
    "account deletion": (lambda world: "/account/delete/", "learner", ("password", "confirm")),
    "data export": (lambda world: "/account/export/", "learner", ("format",)),
}


@pytest.mark.parametrize("target", sorted(TARGETS))
@FUZZ_FORMS
@given(data=st.data())
def test_every_form_survives_hostile_input(world, settings, fake_stripe, target, data):
    quiet_limits(settings)
    path, persona, fields = TARGETS[target]
    posted = data.draw(form_data(*fields))
    if target.startswith("ops"):  # the ids the buttons post: also ones that look numeric
        digits = st.sampled_from(["1", "²", "٣", "1" * 30, "-1", " 1", "1.0"])
        posted[fields[0]] = data.draw(st.lists(digits | any_text, max_size=4))
    client = world.client_for(persona)
    before = snapshot()

    response = client.post(path(world), posted)

    assert response.status_code < 500, response.status_code
    if response.status_code != 302 or shows_an_error(response):
        assert snapshot() == before


RAW_BODIES = [
    ("application/x-www-form-urlencoded", b"email=%ED%A0%80&amount=%FF&reason=%C0%80"),
    ("application/x-www-form-urlencoded", b"\xff\xfe=\xfd&amount=1"),
    ("application/x-www-form-urlencoded; charset=utf-16", "amount=1&email=a".encode("utf-16")),
    ("application/x-www-form-urlencoded; charset=no-such-charset", b"amount=1"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n\xff\r\n"),
    ("multipart/form-data", b"amount=1"),
]


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize(("content_type", "body"), RAW_BODIES)
def test_every_form_survives_non_utf8_and_broken_bodies(
    world, settings, fake_stripe, target, content_type, body
):
    quiet_limits(settings)
    path, persona, _ = TARGETS[target]
    client = world.client_for(persona)
    before = snapshot()

    response = client.generic("POST", path(world), data=body, content_type=content_type)

    assert response.status_code < 500, response.status_code
    if response.status_code != 302:
        assert snapshot() == before


# --- The webhook: an event's own fields, typed wrong ---------------------------------------

wrong_type = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.just("x" * 5000),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["id", "type", "created", "livemode", "api_version", "object", "pending_webhooks"]
        ),
        wrong_type,
        min_size=1,
    ),
    data=st.one_of(
        st.just({"object": {"id": "cs_test_fuzz"}}),
        wrong_type,
        st.fixed_dictionaries({"object": wrong_type}),
    ),
)
@example(fields={"created": -1}, data={"object": {"id": "cs_test_fuzz"}})
@example(fields={"created": "yesterday", "livemode": "no"}, data={"object": {"id": "cs_x"}})
@example(fields={"id": "evt_" + "x" * 300}, data={"object": {"id": "cs_x"}})
@example(fields={"type": "checkout.session.completed" * 10}, data={"object": {"id": "cs_x"}})
def test_signed_events_with_wrongly_typed_fields_are_never_a_server_error(world, fields, data):
    event = {
        "id": f"evt_fuzz_{uuid.uuid4().hex}",
        "object": "event",
        "type": "checkout.session.completed",
        "created": 1_750_000_000,
        "livemode": False,
        "data": data,
        **fields,
    }
    payload = json.dumps(event).encode()
    before = snapshot()

    response = client_for().post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, WEBHOOK_SECRET)},
    )

    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:
        assert snapshot() == before
