"""Grant coupons at checkout: the rules are unit-tested in grants/; here, the whole flow."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from common.testing.concurrency import concurrent_database, race  # noqa: F401 - a fixture
from enrollments.models import Enrollment
from enrollments.tests.conftest import post_event
from grants.models import Grant
from grants.tests.factories import GrantFactory
from lms_sync import selectors as lms_selectors

pytestmark = pytest.mark.django_db


def checkout_url(course):
    return reverse("enrollments:checkout", args=[course.slug])


@pytest.fixture
def learner(client):
    user = UserFactory(email="ada@example.com")
    client.force_login(user)
    return user


def grant_for(percent, email="ada@example.com", **kwargs):
    return GrantFactory(
        approved=True, email=email, discount_percent=percent, course__price_cents=49900, **kwargs
    )


def test_full_grant_enrols_without_stripe_and_redeems_the_coupon(
    client, learner, settings, django_capture_on_commit_callbacks
):
    settings.STRIPE_SECRET_KEY = ""  # a 100% grant needs no payment provider
    grant = grant_for(100)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code.lower()}
        )

    enrollment = Enrollment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("enrollments:enrollment_status", args=[enrollment.pk])
    assert (enrollment.status, enrollment.kind) == ("paid", "full_grant")
    assert (enrollment.list_price_cents, enrollment.discount_cents) == (49900, 49900)
    assert enrollment.amount_due_cents == 0
    assert enrollment.grant == grant
    assert lms_selectors.current_job(enrollment.pk).action == "enrol"  # lms_sync heard it
    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.REDEEMED
    assert grant.redeemed_enrollment_id == enrollment.pk
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    status_page = client.get(response["Location"])
    assert "Your grant covers the full price" in status_page.text


def test_second_redemption_of_a_full_coupon_is_refused(client, learner, fake_stripe):
    grant = grant_for(100)
    client.post(checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code})
    Enrollment.objects.update(status=Enrollment.Status.REFUNDED)  # so "already enrolled" is moot

    response = client.post(checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code})

    assert response.status_code == 400
    assert "already been used" in response.text
    assert Enrollment.objects.count() == 1


def test_partial_grant_charges_the_discounted_amount_and_reserves_the_coupon(
    client, learner, fake_stripe
):
    grant = grant_for(50)

    response = client.post(checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code})

    enrollment = Enrollment.objects.get()
    assert response.status_code == 303
    assert (enrollment.kind, enrollment.amount_due_cents) == ("partial_grant", 24950)
    assert enrollment.discount_cents == 24950
    [create] = [r for r in fake_stripe.requests if r.path == "/v1/checkout/sessions"]
    assert create.params["line_items"][0]["price_data"]["unit_amount"] == "24950"
    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.RESERVED
    assert grant.holder_enrollment_id == enrollment.pk
    assert grant.reserved_until > enrollment.expires_at


def test_paying_a_partial_grant_checkout_redeems_the_coupon(client, learner, fake_stripe):
    grant = grant_for(50)
    client.post(checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code})
    enrollment = Enrollment.objects.get()
    fake_stripe.complete_session(enrollment.stripe_session_id)

    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))

    enrollment.refresh_from_db()
    grant.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID
    assert grant.coupon_state == Grant.CouponState.REDEEMED
    assert grant.redeemed_enrollment_id == enrollment.pk


@pytest.mark.parametrize("event_type", ["checkout.session.expired", "async_payment_failed"])
def test_expired_or_failed_session_releases_the_coupon_for_reuse(
    client, learner, fake_stripe, event_type
):
    grant = grant_for(50)
    client.post(checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code})
    enrollment = Enrollment.objects.get()
    if event_type == "checkout.session.expired":
        fake_stripe.expire_session(enrollment.stripe_session_id)
    else:
        fake_stripe.complete_session(enrollment.stripe_session_id, payment_status="unpaid")
        event_type = "checkout.session.async_payment_failed"

    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id, event_type))

    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.AVAILABLE
    again = client.post(checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code})
    assert again.status_code == 303
    assert Enrollment.objects.filter(status=Enrollment.Status.PENDING).count() == 1


def open_grant_checkout(client, percent=45):
    """The learner's open checkout priced with their grant coupon, and the grant."""
    grant = grant_for(percent)
    response = client.post(checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code})
    assert response.status_code == 303
    return Enrollment.objects.get(status=Enrollment.Status.PENDING), grant


def test_a_checkout_without_the_coupon_asks_before_dropping_the_open_grant_checkout(
    client, learner, fake_stripe
):
    discounted, grant = open_grant_checkout(client)  # 45% off $499.00: $274.45
    sessions_before = len(fake_stripe.requests)

    response = client.post(checkout_url(grant.course), {"email": "x", "coupon": ""})

    assert response.status_code == 409
    notice = response.text
    assert "You already have a checkout open for this course with your" in notice
    assert "45% grant coupon" in notice
    assert "$274.45" in notice and "$499.00" in notice
    assert 'name="grant_choice" value="keep"' in notice
    assert 'name="grant_choice" value="drop"' in notice
    # Nothing changed: the discounted checkout is open, the coupon still held for it.
    discounted.refresh_from_db()
    grant.refresh_from_db()
    assert discounted.status == Enrollment.Status.PENDING
    assert (grant.coupon_state, grant.holder_enrollment_id) == (
        Grant.CouponState.RESERVED,
        discounted.pk,
    )
    assert len(fake_stripe.requests) == sessions_before  # no session expired or created
    assert Enrollment.objects.count() == 1


def test_returning_to_the_grant_checkout_reuses_the_discounted_session(
    client, learner, fake_stripe
):
    discounted, grant = open_grant_checkout(client)

    response = client.post(
        checkout_url(grant.course), {"email": "x", "coupon": "", "grant_choice": "keep"}
    )

    assert response.status_code == 303
    assert response["Location"] == discounted.checkout_url
    discounted.refresh_from_db()
    assert (discounted.status, discounted.amount_due_cents) == ("pending", 27445)
    assert Enrollment.objects.count() == 1


def test_returning_to_a_grant_checkout_about_to_expire_opens_a_fresh_discounted_one(
    client, learner, fake_stripe
):
    discounted, grant = open_grant_checkout(client)
    Enrollment.objects.filter(pk=discounted.pk).update(
        expires_at=timezone.now() + timedelta(minutes=1)
    )

    response = client.post(
        checkout_url(grant.course), {"email": "x", "coupon": "", "grant_choice": "keep"}
    )

    assert response.status_code == 303
    fresh = Enrollment.objects.get(status=Enrollment.Status.PENDING)
    assert fresh.pk != discounted.pk
    assert (fresh.amount_due_cents, fresh.grant) == (27445, grant)
    grant.refresh_from_db()
    assert (grant.coupon_state, grant.holder_enrollment_id) == (
        Grant.CouponState.RESERVED,
        fresh.pk,
    )
    assert response["Location"] == fresh.checkout_url


def test_knowingly_continuing_at_full_price_cancels_the_grant_checkout_and_frees_the_coupon(
    client, learner, fake_stripe
):
    discounted, grant = open_grant_checkout(client)

    response = client.post(
        checkout_url(grant.course), {"email": "x", "coupon": "", "grant_choice": "drop"}
    )

    assert response.status_code == 303
    discounted.refresh_from_db()
    grant.refresh_from_db()
    assert discounted.status == Enrollment.Status.CANCELED
    assert grant.coupon_state == Grant.CouponState.AVAILABLE
    full = Enrollment.objects.get(status=Enrollment.Status.PENDING)
    assert (full.kind, full.amount_due_cents, full.grant) == ("paid", 49900, None)
    assert response["Location"] == full.checkout_url


def test_an_unknown_grant_choice_is_ignored_and_still_asks(client, learner, fake_stripe):
    discounted, grant = open_grant_checkout(client)

    response = client.post(
        checkout_url(grant.course), {"email": "x", "coupon": "", "grant_choice": "drop!"}
    )

    assert response.status_code == 409
    discounted.refresh_from_db()
    assert discounted.status == Enrollment.Status.PENDING


def test_the_same_coupon_again_reuses_the_grant_checkout_without_asking(
    client, learner, fake_stripe
):
    discounted, grant = open_grant_checkout(client)

    response = client.post(checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code})

    assert response.status_code == 303
    assert response["Location"] == discounted.checkout_url


def test_coupon_of_another_account_reads_like_an_unknown_code(client, learner, fake_stripe):
    theirs = grant_for(100, email="bob@example.com")

    foreign = client.post(checkout_url(theirs.course), {"email": "x", "coupon": theirs.coupon_code})
    unknown = client.post(checkout_url(theirs.course), {"email": "x", "coupon": "MAAL-XXXX-XXXX"})

    assert foreign.status_code == unknown.status_code == 400
    message = "This coupon code is not valid for your account."
    assert message in foreign.text and message in unknown.text
    assert Enrollment.objects.count() == 0


def test_anonymous_learner_must_log_in_to_use_a_coupon(client, fake_stripe):
    grant = grant_for(100)

    response = client.post(
        checkout_url(grant.course), {"email": "ada@example.com", "coupon": grant.coupon_code}
    )

    assert response.status_code == 400
    assert "log in" in response.text.lower()
    assert Enrollment.objects.count() == 0


def test_approved_grant_email_link_prefills_the_coupon(client, learner):
    grant = grant_for(50)

    response = client.get(checkout_url(grant.course), {"coupon": grant.coupon_code})

    assert f'value="{grant.coupon_code}"' in response.text


def test_coupon_attempts_are_rate_limited_per_account(client, learner, settings, fake_stripe):
    settings.COUPON_RATE_PER_USER = "3/h"
    grant = grant_for(50)

    statuses = [
        client.post(
            checkout_url(grant.course), {"email": "x", "coupon": f"MAAL-BAD{n}"}
        ).status_code
        for n in range(4)
    ]

    assert statuses == [400, 400, 400, 429]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("concurrent_database")
def test_20_simultaneous_redemptions_of_one_full_coupon_make_one_enrollment(settings):
    settings.COUPON_RATE_PER_USER = settings.COUPON_RATE_PER_IP = "1000/m"
    user = UserFactory(email="ada@example.com")
    grant = grant_for(100)

    def redeem():
        client = Client()
        client.force_login(user)
        response = client.post(
            checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code}
        )
        return response.status_code, response.text

    results = race(redeem, 20)

    assert [status for status, _ in results].count(302) == 1
    refusals = [text for status, text in results if status == 400]
    assert len(refusals) == 19
    assert all(
        "already been used" in text or "already enrolled" in text or "in use" in text
        for text in refusals
    )
    assert Enrollment.objects.count() == 1
    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.REDEEMED


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("concurrent_database")
def test_20_simultaneous_partial_checkouts_make_one_reservation_and_one_session(
    fake_stripe, settings
):
    settings.COUPON_RATE_PER_USER = settings.COUPON_RATE_PER_IP = "1000/m"
    user = UserFactory(email="ada@example.com")
    grant = grant_for(50)

    def checkout():
        client = Client()
        client.force_login(user)
        return client.post(
            checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code}
        ).status_code

    statuses = race(checkout, 20)

    assert set(statuses) <= {303, 400}
    assert Enrollment.objects.filter(status=Enrollment.Status.PENDING).count() == 1
    assert len(fake_stripe.sessions) == 1
    grant.refresh_from_db()
    pending = Enrollment.objects.get(status=Enrollment.Status.PENDING)
    assert (grant.coupon_state, grant.holder_enrollment_id) == ("reserved", pending.pk)


def test_an_old_maaledu_coupon_code_still_works_at_checkout(
    client, learner, settings, django_capture_on_commit_callbacks
):
    """Codes imported from the old MaalEdu are shorter than ours and keep working as typed."""
    settings.STRIPE_SECRET_KEY = ""
    grant = grant_for(100, coupon_code="SCHOLAR-2024")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            checkout_url(grant.course), {"email": "x", "coupon": " scholar-2024 "}
        )

    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.REDEEMED
    assert Enrollment.objects.get().grant == grant
