"""Random and boundary input to every form and to the Stripe webhook: never a server error, a
clear message where a person would see one, and nothing written when the input is refused."""

import json
import uuid
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from accounts.tests.factories import UserFactory
from affiliates.models import Affiliate, Payout
from enrollments.models import Enrollment, StripeEvent
from fakes.stripe_server import sign
from grants.forms import ApproveGrantsForm
from grants.models import Grant

pytestmark = pytest.mark.django_db

FUZZ = hypothesis_settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
WEBHOOK_SECRET = "whsec_test_maaledu"

# Text a browser could send: any code point except lone surrogates, which UTF-8 cannot carry
# (the raw-bytes tests below send those, and invalid UTF-8, as percent-escapes).
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)
boundary_text = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\u202e\u200b\ufeff",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ 🎓",
        "x" * 10_000,
        "-1",
        "0",
        "-2147483649",
        "9223372036854775808",
        "1e309",
        "NaN",
        "null",
        "[]",
        "{}",
        "'; DROP TABLE enrollments_enrollment; --",
        "<script>alert(1)</script>",
        "ada@example.com",
        "ADA@EXAMPLE.COM ",
        "a@b",
        "@example.com",
        "ada@@example.com",
        "a" * 64 + "@" + "b" * 189 + ".com",
        "MAAL-2222-3333-4444-5555",
        "maal 2222 3333 4444 5555",
    ]
)
field_value = st.one_of(any_text, boundary_text)
# A value, or a list (the same parameter repeated), or nothing at all (a missing field).
posted_value = st.one_of(field_value, st.lists(field_value, min_size=2, max_size=3))


def form_data(*names: str):
    return st.dictionaries(st.sampled_from(names), posted_value, max_size=len(names)).flatmap(
        lambda data: st.dictionaries(any_text, posted_value, max_size=3).map(
            lambda extra: {**extra, **data}
        )
    )


def shows_an_error(response) -> bool:
    text = response.text
    return 'role="alert"' in text or 'class="errorlist' in text or "notice-error" in text


def holds_nul(data: dict) -> bool:
    def texts(value):
        return value if isinstance(value, list) else [value]

    return any(
        "\x00" in str(key) or any("\x00" in str(text) for text in texts(value))
        for key, value in data.items()
    )


def refused_for_nul(response, data: dict) -> bool:
    """A NUL character anywhere in a query string or form field gets the site's 400 page before
    any view runs (``maaledu.middleware.RequestInputMiddleware``): True when that happened."""
    if not holds_nul(data):
        return False
    assert response.status_code == 400, response.status_code
    assert shows_an_error(response)
    return True


def dropped_old_ref_link(response, query: dict) -> bool:
    """A ``ref`` holding an '@' reads as an old MaalEdu ``?ref=<e-mail>`` link: the referral
    middleware redirects to the same page without it (``affiliates.middleware``)."""
    if "@" not in query.get("ref", ""):
        return False
    assert response.status_code == 302, response.status_code
    assert "ref=" not in response["Location"]
    return True


def client_for(user=None) -> Client:
    client = Client()
    client.raise_request_exception = False
    if user is not None:
        client.force_login(user)
    return client


def quiet_limits(settings) -> None:
    """Hostile input is about input: the rate limits have their own tests."""
    for name in (
        "CHECKOUT_RATE_PER_IP",
        "CHECKOUT_RATE_PER_EMAIL",
        "COUPON_RATE_PER_USER",
        "COUPON_RATE_PER_IP",
        "GRANT_APPLY_RATE_PER_IP",
        "GRANT_APPLY_RATE_PER_EMAIL",
        "AFFILIATE_JOIN_RATE",
        "REFERRAL_CLICK_RATE",
    ):
        # Once per test: every assignment to pytest-django's ``settings`` nests one more
        # override, and a @given test calls this per example; hundreds of nested overrides
        # overflow the stack in any settings read (a RecursionError answered as a 500).
        if getattr(settings, name) != "1000000/m":
            setattr(settings, name, "1000000/m")
    settings.ACCOUNT_RATE_LIMITS = False


def grant_states():
    return list(Grant.objects.order_by("pk").values_list("pk", "status", "coupon_state"))


# --- Checkout ---------------------------------------------------------------------------------

CHECKOUT_FIELDS = ("email", "coupon", "referral_acknowledged", "csrfmiddlewaretoken")


@FUZZ
@given(data=form_data(*CHECKOUT_FIELDS), as_learner=st.booleans())
@example(data={"email": "\x00", "coupon": "\x00", "referral_acknowledged": "\x00"}, as_learner=True)
@example(data={"email": ["a@example.com", "b@example.com"], "coupon": ["x", "y"]}, as_learner=False)
@example(data={"referral_acknowledged": "yes" * 1000}, as_learner=False)
@example(
    data={"coupon": "MAAL-2222-3333-4444-5555", "referral_acknowledged": "y" * 100_000},
    as_learner=True,
)
def test_checkout_survives_hostile_input(world, settings, fake_stripe, data, as_learner):
    quiet_limits(settings)
    client = client_for(world.learner if as_learner else None)
    path = f"/courses/{world.other_enrollment.course.slug}/checkout/"
    before = (Enrollment.objects.count(), grant_states())

    response = client.post(path, data)

    assert response.status_code in (303, 400), response.status_code
    if response.status_code == 400:
        assert shows_an_error(response)
        assert (Enrollment.objects.count(), grant_states()) == before
    else:
        assert Enrollment.objects.count() <= before[0] + 1


@pytest.mark.parametrize(
    ("path", "persona"),
    [
        ("/courses/security-101/checkout/", "anonymous"),
        ("/affiliates/join/", "learner"),
        ("/grants/apply/", "anonymous"),
        ("/accounts/signup/", "anonymous"),
    ],
)
def test_an_empty_post_is_answered_with_an_error_message(world, settings, path, persona):
    # A POST with no fields at all must not look like a fresh GET of the form.
    quiet_limits(settings)
    before = (Enrollment.objects.count(), Affiliate.objects.count(), Grant.objects.count())

    response = world.client_for(persona).post(path, {})

    assert response.status_code in (200, 400)
    assert shows_an_error(response), f"{path}: no error shown for an empty POST"
    assert (Enrollment.objects.count(), Affiliate.objects.count(), Grant.objects.count()) == before


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["coupon", "ref", "q", "page"]), field_value))
def test_checkout_page_survives_hostile_query_strings(world, settings, query):
    quiet_limits(settings)

    response = client_for().get(f"/courses/{world.course.slug}/checkout/", query)

    assert (
        refused_for_nul(response, query)
        or dropped_old_ref_link(response, query)
        or response.status_code == 200
    )


# --- Catalog and status pages (query strings reach the database) -------------------------------


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["q", "level", "page", "ref"]), field_value))
@example(query={"q": "\x00"})
@example(query={"q": "a\x00b", "level": "\x00", "page": "\x00"})
@example(query={"q": "x", "ref": "someone@example.com"})
def test_catalog_search_survives_hostile_query_strings(world, settings, query):
    quiet_limits(settings)

    response = client_for().get("/courses/", query)

    assert (
        refused_for_nul(response, query)
        or dropped_old_ref_link(response, query)
        or response.status_code == 200
    )


@FUZZ
@given(session_id=field_value)
@example(session_id="\x00")
@example(session_id="cs_test_\x00")
def test_checkout_success_survives_hostile_session_ids(world, session_id):
    query = {"session_id": session_id}
    response = client_for(world.learner).get("/checkout/success/", query)

    assert refused_for_nul(response, query) or response.status_code == 404


# --- Grant applications -----------------------------------------------------------------------

GRANT_FIELDS = ("name", "email", "course", "statement", "organisation", "country")


@FUZZ
@given(data=form_data(*GRANT_FIELDS), course_id=st.integers() | st.none())
@example(data={"name": "\x00", "email": "a\x00@example.com", "statement": "\x00"}, course_id=-1)
@example(data={"statement": "x" * 5001}, course_id=2**63)
def test_grant_applications_survive_hostile_input(world, settings, data, course_id):
    quiet_limits(settings)
    if course_id is not None:
        data = {**data, "course": str(course_id)}
    before = Grant.objects.count()

    response = client_for().post("/grants/apply/", data)

    if refused_for_nul(response, data):
        assert Grant.objects.count() == before
        return
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)
        assert Grant.objects.count() == before
    else:
        assert Grant.objects.count() == before + 1


# --- Affiliate join ---------------------------------------------------------------------------

JOIN_FIELDS = (
    "payout_method",
    "paypal_email",
    "bank_account_holder",
    "bank_account",
    "bank_name",
    "bank_swift",
    "accepted_terms",
)


@FUZZ
@given(
    data=form_data(*JOIN_FIELDS),
    method=st.sampled_from(["paypal", "bank", "", "PAYPAL", "crypto", "\x00"]),
)
@example(
    data={
        "bank_account_holder": "A" * 140,
        "bank_account": "GB82 WEST 1234 5698 7654 32" + " 1" * 7,
        "bank_name": "B" * 140,
        "bank_swift": "DEUTDEFF500",
        "accepted_terms": "on",
    },
    method="bank",
)
@example(
    data={
        "bank_account_holder": "Ada",
        "bank_account": "1" * 42,
        "bank_name": "Bank",
        "accepted_terms": "on",
        "bank_swift": "DEUT-DE-FF-500",
    },
    method="bank",
)
@example(data={"paypal_email": "a" * 250 + "@x.io", "accepted_terms": "on"}, method="paypal")
def test_affiliate_join_survives_hostile_input(world, settings, data, method):
    quiet_limits(settings)
    user = UserFactory()
    data = {"payout_method": method, **data}

    response = client_for(user).post("/affiliates/join/", data)

    if refused_for_nul(response, data):
        assert not Affiliate.objects.filter(user=user).exists()
        return
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)
        assert not Affiliate.objects.filter(user=user).exists()
    else:
        assert response["Location"] == "/affiliates/dashboard/"
        affiliate = Affiliate.objects.get(user=user)
        assert len(affiliate.bank_account) <= 34


# --- allauth: signup, login, password reset ---------------------------------------------------


@FUZZ
@given(data=form_data("email", "password1", "password2"))
@example(data={"email": "new\x00@example.com", "password1": "\x00" * 20, "password2": "\x00" * 20})
@example(data={"email": ["a@example.com", "b@example.com"], "password1": "x", "password2": "y"})
@example(data={"email": "true", "password1": "Corr3ct-horse-b", "password2": "Corr3ct-horse-b"})
@example(data={"email": ["true", "1"], "password1": ["a", "b"], "password2": "x" * 100_000})
def test_signup_survives_hostile_input(world, settings, data):
    quiet_limits(settings)
    before = User.objects.count()

    response = client_for().post("/accounts/signup/", data)

    if refused_for_nul(response, data):
        assert User.objects.count() == before
        return
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)
        assert User.objects.count() == before


@FUZZ
@given(data=form_data("login", "password", "remember"))
@example(data={"login": "\x00", "password": "\x00"})
@example(data={"login": "learner.one@example.com", "password": ["a", "b"]})
def test_login_survives_hostile_input(world, settings, data):
    quiet_limits(settings)

    response = client_for().post("/accounts/login/", data)

    assert refused_for_nul(response, data) or response.status_code == 200
    assert shows_an_error(response)
    assert "_auth_user_id" not in response.client.session


@FUZZ
@given(data=form_data("email"))
@example(data={"email": "learner.one@example.com\x00"})
def test_password_reset_survives_hostile_input(world, settings, data):
    quiet_limits(settings)

    response = client_for().post("/accounts/password/reset/", data)

    if refused_for_nul(response, data):
        return
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert shows_an_error(response)


# --- Raw bodies: invalid UTF-8, lone surrogates, too many or too large fields ------------------

RAW_BODIES = [
    b"email=%ED%A0%80%40example.com&coupon=%FF%FE",  # an encoded lone surrogate, invalid UTF-8
    b"email=%C0%80&coupon=%00",  # overlong NUL
    b"email=\xff\xfe\xfd",  # raw invalid bytes
    b"=&=&&&email",
    b"email=a%40example.com&" + b"&".join(b"f%d=1" % n for n in range(1500)),  # too many
    b"email=" + b"a" * (3 * 1024 * 1024),  # over DATA_UPLOAD_MAX_MEMORY_SIZE
    quote_from_bytes("email=🎓@example.com".encode()).encode(),
]


@pytest.mark.parametrize("body", RAW_BODIES, ids=range(len(RAW_BODIES)))
@pytest.mark.parametrize(
    "path",
    ["/courses/security-101/checkout/", "/grants/apply/", "/accounts/signup/", "/accounts/login/"],
)
def test_raw_form_bodies_never_cause_a_server_error(world, settings, path, body):
    quiet_limits(settings)
    before = (Enrollment.objects.count(), Grant.objects.count(), User.objects.count())

    response = client_for().post(path, data=body, content_type="application/x-www-form-urlencoded")

    assert response.status_code in (200, 400), response.status_code
    assert (Enrollment.objects.count(), Grant.objects.count(), User.objects.count()) == before


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "multipart/form-data; boundary=x", "application/xml", ""],
)
def test_forms_posted_with_the_wrong_content_type_are_refused_cleanly(
    world, settings, content_type
):
    quiet_limits(settings)
    before = (Enrollment.objects.count(), Grant.objects.count())

    for path in ("/courses/security-101/checkout/", "/grants/apply/"):
        response = client_for().post(
            path, data=b'{"email": "a@example.com"}', content_type=content_type
        )
        assert response.status_code in (200, 400), (path, response.status_code)
    assert (Enrollment.objects.count(), Grant.objects.count()) == before


# --- Admin actions, as staff ------------------------------------------------------------------


@FUZZ
@given(
    discount=st.one_of(st.integers(), field_value),
    valid_days=st.one_of(st.integers(), field_value),
)
@example(discount=-1, valid_days=0)
@example(discount=101, valid_days=366)
@example(discount=2**63, valid_days=-(2**63))
@example(discount="\x00", valid_days="1e309")
def test_grant_approval_survives_hostile_input(world, discount, valid_days):
    client = client_for(world.staff)
    pending = world.other_grant
    fields = {"discount_percent": str(discount), "valid_days": str(valid_days)}
    accepted = ApproveGrantsForm(fields).is_valid()
    before = grant_states()

    response = client.post(
        "/admin/grants/grant/",
        {
            "action": "approve_selected",
            "_selected_action": [pending.pk],
            "confirm": "yes",
            **fields,
        },
    )

    if refused_for_nul(response, fields):
        assert grant_states() == before
        return
    assert response.status_code in (200, 302)
    if not accepted:
        assert response.status_code == 200
        assert shows_an_error(response)
        assert grant_states() == before
    else:
        assert response.status_code == 302
        assert Grant.objects.get(pk=pending.pk).status == Grant.Status.APPROVED
        # Put the grant back for the next example.
        Grant.objects.filter(pk=pending.pk).update(
            status=Grant.Status.PENDING,
            discount_percent=None,
            coupon_code=None,
            coupon_expires_at=None,
            coupon_state="",
            reviewed_at=None,
            reviewed_by=None,
        )


@FUZZ
# The admin's checkboxes should carry row ids; a hand-made POST sends anything.
@given(
    note=field_value,
    selected=st.lists(st.one_of(st.integers(), field_value), max_size=4),
    actions=st.lists(st.sampled_from(["reject_selected", "approve_selected", "", "x"]), max_size=3),
    index=st.one_of(st.none(), field_value),
)
@example(note="\x00", selected=[-1, 0], actions=["reject_selected"], index=None)
@example(note="x" * 2001, selected=[2**63 - 1], actions=["reject_selected"], index=None)
@example(note="n", selected=["abc"], actions=["reject_selected"], index="0")
@example(note="n", selected=[2**64], actions=["reject_selected", "approve_selected"], index="1")
def test_grant_rejection_survives_hostile_input(world, note, selected, actions, index):
    client = client_for(world.staff)
    existing = {str(pk) for pk in Grant.objects.values_list("pk", flat=True)}
    selected = [str(value) for value in selected if str(value).strip() not in existing]
    data = {
        "action": actions or ["reject_selected"],
        "_selected_action": selected,
        "confirm": "yes",
        "note": note,
        **({} if index is None else {"index": index}),
    }
    before = grant_states()

    response = client.post("/admin/grants/grant/", data)

    assert refused_for_nul(response, data) or response.status_code in (200, 302)
    assert grant_states() == before  # nothing that exists was selected


@FUZZ
@given(reference=field_value, method=field_value)
@example(reference="\x00", method="\x00")
@example(reference="x" * 201, method="paypal")
def test_payout_creation_survives_hostile_input(world, reference, method):
    client = client_for(world.staff)
    before = Payout.objects.count()

    data = {"method": method, "reference": reference}
    response = client.post(
        "/admin/affiliates/affiliate/",
        {
            "action": "create_payouts",
            "_selected_action": [world.affiliate.pk],
            "apply": "1",
            **data,
        },
    )

    assert refused_for_nul(response, data) or response.status_code in (200, 302)
    assert Payout.objects.count() == before  # no approved commission to pay, or invalid input


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["start", "end", "affiliate"]), field_value))
@example(query={"start": "2024-02-30", "end": "0000-01-01", "affiliate": "\x00"})
@example(query={"start": "9999-12-31", "end": "9999-12-31"})
def test_commission_export_survives_hostile_input(world, query):
    response = client_for(world.staff).get("/admin/affiliates/commission/export/", query)

    assert refused_for_nul(response, query) or response.status_code == 200


@FUZZ
@given(q=field_value)
@example(q="\x00")
def test_admin_search_survives_hostile_input(world, q):
    client = client_for(world.staff)

    for path in ("/admin/grants/grant/", "/admin/enrollments/enrollment/", "/admin/accounts/user/"):
        response = client.get(path, {"q": q})
        assert refused_for_nul(response, {"q": q}) or response.status_code == 200, path


# --- The Stripe webhook -----------------------------------------------------------------------

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    field_value,
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=10,
)
# Inside signed events: the same, without NUL (test_a_signed_event_holding_a_nul_character_…).
no_nul_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
signed_value = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        no_nul_text,
        boundary_text.filter(lambda text: "\x00" not in text),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(no_nul_text, inner, max_size=3),
    max_leaves=10,
)


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        any_text.map(str.encode),
        json_value.map(lambda value: json.dumps(value).encode()),
    ),
    signature=st.one_of(st.none(), field_value, st.just("t=1,v1=" + "0" * 64)),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
    ),
)
def test_unsigned_webhook_bodies_are_refused_and_store_nothing(
    world, body, signature, content_type
):
    before = StripeEvent.objects.count()
    headers = {} if signature is None else {"Stripe-Signature": signature}

    response = client_for().post(
        "/webhooks/stripe/", data=body, content_type=content_type, headers=headers
    )

    assert response.status_code == 400
    assert response.json() == {"error": "invalid signature or payload"}
    assert StripeEvent.objects.count() == before


EVENT_TYPES = st.sampled_from(
    [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
        "charge.refunded",
        "charge.dispute.created",
        "customer.created",
    ]
)
OBJECT_FIELDS = st.sampled_from(
    [
        "id",
        "client_reference_id",
        "payment_status",
        "status",
        "amount_total",
        "currency",
        "payment_intent",
        "metadata",
        "amount_refunded",
        "amount",
        "reason",
    ]
)


@FUZZ
@given(
    event_type=EVENT_TYPES,
    obj=st.dictionaries(OBJECT_FIELDS, signed_value, max_size=8),
    reference_known=st.booleans(),
)
@example(
    event_type="checkout.session.completed",
    obj={"id": ["cs"], "payment_status": "paid", "amount_total": "49900", "currency": 840},
    reference_known=True,
)
@example(
    event_type="charge.refunded",
    obj={"payment_intent": {"id": 1}, "metadata": ["enrollment_id"], "amount_refunded": -(2**70)},
    reference_known=True,
)
@example(
    event_type="checkout.session.completed",
    obj={"client_reference_id": "²", "payment_status": "paid"},
    reference_known=False,
)
def test_signed_events_with_hostile_fields_end_recorded(world, event_type, obj, reference_known):
    # A signed event comes from Stripe: whatever its fields hold, it is stored, and either
    # applied or marked failed for staff (a 500 asks Stripe to retry). It never crashes before
    # it is recorded, and never makes a paid enrollment unpaid or pays a pending one for free.
    if reference_known:
        obj = {**obj, "client_reference_id": str(world.enrollment.pk)}
    event_id = f"evt_fuzz_{uuid.uuid4().hex}"
    payload = json.dumps({"id": event_id, "type": event_type, "data": {"object": obj}}).encode()
    paid_before = set(
        Enrollment.objects.filter(status=Enrollment.Status.PAID).values_list("pk", flat=True)
    )

    response = client_for().post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, WEBHOOK_SECRET)},
    )

    stored = StripeEvent.objects.filter(event_id=event_id).first()
    assert stored is not None, f"signed event not recorded (answered {response.status_code})"
    if response.status_code == 500:
        assert stored.outcome == StripeEvent.Outcome.FAILED
        assert stored.error
    else:
        assert response.status_code == 200
        assert stored.outcome in (StripeEvent.Outcome.PROCESSED, StripeEvent.Outcome.IGNORED)
    still_paid = set(
        Enrollment.objects.filter(
            status__in=[Enrollment.Status.PAID, Enrollment.Status.REFUNDED]
        ).values_list("pk", flat=True)
    )
    assert paid_before <= still_paid


def test_a_signed_event_holding_a_nul_character_is_recorded(world):
    # JSON may carry \u0000 (a customer-typed name, say); PostgreSQL's jsonb cannot store it.
    payload = json.dumps(
        {
            "id": "evt_nul",
            "type": "checkout.session.completed",
            "data": {"object": {"id": "cs_nul", "customer_details": {"name": "Ada\u0000"}}},
        }
    ).encode()

    response = client_for().post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, WEBHOOK_SECRET)},
    )

    assert response.status_code == 200
    assert StripeEvent.objects.filter(event_id="evt_nul").exists()


@pytest.mark.parametrize(
    "declared", ["", "abc", "-1", "1e3", " 12", "12 ", "0x10", "²", "99999999999999999999"]
)
def test_a_malformed_content_length_is_refused_not_a_server_error(world, declared):
    payload = b'{"id": "evt_len", "type": "x", "data": {"object": {}}}'

    response = client_for().post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, WEBHOOK_SECRET)},
        CONTENT_LENGTH=declared,
    )

    assert response.status_code in (400, 413), response.status_code
    assert not StripeEvent.objects.filter(event_id="evt_len").exists()


def test_the_webhook_accepts_only_post(world):
    client = client_for()

    for method in ("get", "put", "patch", "delete"):
        assert getattr(client, method)("/webhooks/stripe/").status_code == 405
