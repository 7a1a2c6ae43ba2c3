"""Affiliate attribution at checkout, and commissions through fulfilment and refunds."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from affiliates.cookies import REFERRAL_COOKIE
from affiliates.models import Affiliate, Commission
from affiliates.tests.factories import AffiliateFactory
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from enrollments.tests.conftest import post_event
from grants.tests.factories import GrantFactory

pytestmark = pytest.mark.django_db


def checkout_url(course):
    return reverse("enrollments:checkout", args=[course.slug])


def visit_with_referral(client, affiliate, course):
    client.get(course.get_absolute_url(), {"ref": affiliate.referral_code})
    assert REFERRAL_COOKIE in client.cookies


def pay(client, fake_stripe, enrollment):
    fake_stripe.complete_session(enrollment.stripe_session_id)
    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))
    enrollment.refresh_from_db()


def test_referred_sale_is_attributed_shown_and_earns_one_commission(client, fake_stripe):
    affiliate = AffiliateFactory(rate_percent=10)
    course = CourseFactory(price_cents=49900)
    visit_with_referral(client, affiliate, course)

    page = client.get(checkout_url(course))
    client.post(checkout_url(course), {"email": "buyer@example.com"})
    enrollment = Enrollment.objects.get()
    pay(client, fake_stripe, enrollment)
    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))  # replay

    assert affiliate.referral_code in page.text
    assert enrollment.affiliate == affiliate
    commission = Commission.objects.get()
    assert (commission.sale_id, commission.amount_cents) == (enrollment.pk, 4990)
    assert commission.buyer_email_masked != "buyer@example.com"


def test_self_referral_is_explained_and_nothing_is_created_until_confirmed(client, fake_stripe):
    affiliate = AffiliateFactory(user=UserFactory(email="ann@example.com"))
    course = CourseFactory()
    visit_with_referral(client, affiliate, course)

    first = client.post(checkout_url(course), {"email": "ANN@example.com"})

    assert first.status_code == 400
    assert "cannot earn a commission on your own purchase" in first.text
    assert Enrollment.objects.count() == 0
    assert 'name="referral_acknowledged" value="True"' in first.text

    second = client.post(
        checkout_url(course), {"email": "ANN@example.com", "referral_acknowledged": "True"}
    )

    assert second.status_code == 303
    assert Enrollment.objects.get().affiliate is None


def test_logged_in_affiliate_sees_the_refusal_on_the_checkout_page(client):
    affiliate = AffiliateFactory()
    course = CourseFactory()
    client.force_login(affiliate.user)
    visit_with_referral(client, affiliate, course)

    page = client.get(checkout_url(course))

    assert "cannot earn a commission on your own purchase" in page.text


def test_suspended_affiliate_gets_no_attribution(client, fake_stripe):
    affiliate = AffiliateFactory()
    course = CourseFactory()
    visit_with_referral(client, affiliate, course)
    Affiliate.objects.update(status=Affiliate.Status.SUSPENDED)

    client.post(checkout_url(course), {"email": "buyer@example.com"})

    assert Enrollment.objects.get().affiliate is None


def test_partial_grant_commission_is_on_the_amount_actually_paid(client, fake_stripe):
    affiliate = AffiliateFactory(rate_percent=10)
    grant = GrantFactory(
        approved=True, email="ada@example.com", discount_percent=50, course__price_cents=49900
    )
    client.force_login(UserFactory(email="ada@example.com"))
    visit_with_referral(client, affiliate, grant.course)

    client.post(checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code})
    pay(client, fake_stripe, Enrollment.objects.get())

    assert Commission.objects.get().amount_cents == 2495  # 10% of 24 950


def test_full_grant_earns_no_commission(client):
    affiliate = AffiliateFactory()
    grant = GrantFactory(approved=True, email="ada@example.com", discount_percent=100)
    client.force_login(UserFactory(email="ada@example.com"))
    visit_with_referral(client, affiliate, grant.course)

    client.post(checkout_url(grant.course), {"email": "x", "coupon": grant.coupon_code})

    assert Enrollment.objects.get().status == Enrollment.Status.PAID
    assert Commission.objects.count() == 0


def test_refunds_reverse_the_commission_proportionally_then_fully(client, fake_stripe):
    affiliate = AffiliateFactory(rate_percent=10)
    course = CourseFactory(price_cents=10000)
    visit_with_referral(client, affiliate, course)
    client.post(checkout_url(course), {"email": "buyer@example.com"})
    enrollment = Enrollment.objects.get()
    pay(client, fake_stripe, enrollment)
    charge_id = next(iter(fake_stripe.charges))
    stripe_client_key = {"Authorization": "Bearer sk_test_maaledu"}

    import requests

    requests.post(
        f"{fake_stripe.url}/v1/refunds",
        headers=stripe_client_key,
        data={"charge": charge_id, "amount": 2500},
        timeout=5,
    )
    post_event(client, fake_stripe.event_for_charge(charge_id))
    commission = Commission.objects.get()
    assert commission.reversed_cents == 250
    requests.post(
        f"{fake_stripe.url}/v1/refunds",
        headers=stripe_client_key,
        data={"charge": charge_id},
        timeout=5,
    )
    post_event(client, fake_stripe.event_for_charge(charge_id))

    commission.refresh_from_db()
    enrollment.refresh_from_db()
    assert commission.reversed_cents == 1000
    assert commission.status == Commission.Status.REVERSED
    assert enrollment.status == Enrollment.Status.REFUNDED


def _referred_sale(client, fake_stripe):
    affiliate = AffiliateFactory(rate_percent=10)
    course = CourseFactory(price_cents=49900)
    visit_with_referral(client, affiliate, course)
    client.post(checkout_url(course), {"email": "buyer@example.com"})
    enrollment = Enrollment.objects.get()
    fake_stripe.complete_session(enrollment.stripe_session_id)
    return affiliate, enrollment


def test_a_referred_payments_task_counts_its_commission_into_the_daily_totals(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    from affiliates.models import EarningsDay

    affiliate, enrollment = _referred_sale(client, fake_stripe)

    with django_capture_on_commit_callbacks(execute=True):  # the payment's task runs (eager)
        post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))

    assert not Commission.objects.filter(totals_stale=True).exists()
    day = EarningsDay.objects.get(affiliate=affiliate)
    assert (day.sales, day.pending_cents) == (1, 4990)


def test_the_dashboard_shows_a_new_commission_before_the_payments_task_counts_it(
    client, fake_stripe, monkeypatch
):
    """The webhook request leaves the daily totals to the payment's Celery task; a view
    before that task ran (here its message is lost: the broker refuses it) counts the sale
    itself."""
    affiliate, enrollment = _referred_sale(client, fake_stripe)
    monkeypatch.setattr("common.queue.enqueue", lambda task, *args: False)
    response = post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))
    assert response.json() == {"status": "fulfilled"}
    assert Commission.objects.get(totals_stale=True).amount_cents == 4990  # not counted yet

    client.force_login(affiliate.user)
    dashboard = client.get(reverse("affiliates:dashboard")).context["dashboard"]

    [earnings] = dashboard.earnings
    assert (dashboard.referrals, earnings.pending_cents) == (1, 4990)
