import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import DatabaseError
from django.utils import timezone

from accounts.tests.factories import UserFactory
from affiliates.models import Affiliate, Commission, ReferralClick
from affiliates.tests.factories import sale_key
from common import metrics, outbox
from common.testing.mail import REFUSING_BACKEND
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment, StripeEvent
from enrollments.tests.conftest import fixture_event, post_event
from enrollments.tests.factories import EnrollmentFactory
from grants.models import Grant
from grants.tests.factories import GrantFactory
from lms_sync.models import LmsSyncJob
from lms_sync.tests.factories import enrollment_with_job
from ops.models import Incident

from .conftest import METRICS_TOKEN

BASE_DIR = Path(__file__).resolve().parents[2]
SESSION_A = "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY"


# --- Access ------------------------------------------------------------------------------------


def test_metrics_are_off_when_neither_token_nor_allow_list_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []

    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x", "Bearer"],
)
def test_a_missing_or_wrong_token_is_refused(client, settings, authorization):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_IPS = []
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"maaledu_" not in response.content


@pytest.mark.django_db
def test_the_right_token_gets_the_prometheus_text_format(client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_IPS = []

    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    assert b"maaledu_business_metrics_up 1.0" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("remote_addr", "status"),
    [("10.0.0.5", 200), ("192.168.7.20", 200), ("10.0.0.6", 403), ("not-an-ip", 403)],
)
def test_the_allow_list_admits_listed_addresses_and_networks_only(
    client, settings, remote_addr, status
):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.5", "192.168.7.0/24"]

    assert client.get("/metrics", REMOTE_ADDR=remote_addr).status_code == status


@pytest.mark.django_db
def test_the_allow_list_reads_the_client_ip_from_the_trusted_proxy_header(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.5"]
    settings.CLIENT_IP_META_KEY = "HTTP_X_REAL_IP"

    allowed = client.get("/metrics", REMOTE_ADDR="172.16.0.1", headers={"X-Real-IP": "10.0.0.5"})
    spoofed = client.get(
        "/metrics", REMOTE_ADDR="172.16.0.1", headers={"X-Forwarded-For": "10.0.0.5"}
    )

    assert allowed.status_code == 200
    assert spoofed.status_code == 403


@pytest.mark.django_db
def test_with_both_set_the_scraper_needs_the_address_and_the_token(client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.0.0.5"]
    good_token = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    assert client.get("/metrics", REMOTE_ADDR="10.0.0.5", headers=good_token).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.5").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.9", headers=good_token).status_code == 403


def test_a_malformed_allow_list_entry_fails_the_system_check(settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "10.0.0.300"]

    with pytest.raises(SystemCheckError, match=r"ops\.E001.*10\.0\.0\.300"):
        call_command("check")


# --- Request metrics ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_and_timed_by_route_name_never_by_path(client, scrape):
    course = CourseFactory(slug="aws-solutions-architect")
    before = scrape()

    client.get(f"/courses/{course.slug}/")
    client.get(f"/courses/{course.slug}/?q=jane@example.com")
    client.get("/courses/no-such-course/")
    client.get("/wp-login.php")
    after = scrape()

    def requests(route, status):
        name, labels = "maaledu_http_requests_total", {"method": "GET", "route": route}
        return (after.value(name, **labels, status=status) or 0) - (
            before.value(name, **labels, status=status) or 0
        )

    def timed(route):
        name, labels = "maaledu_http_request_duration_seconds_count", {"method": "GET"}
        return after.value(name, **labels, route=route) - (
            before.value(name, **labels, route=route) or 0
        )

    assert requests("courses:detail", "2xx") == 2
    assert requests("courses:detail", "4xx") == 1
    assert requests("<unmatched>", "4xx") == 1
    assert timed("courses:detail") == 3
    assert "aws-solutions-architect" not in after.text
    assert "wp-login" not in after.text
    assert "jane" not in after.text


@pytest.mark.django_db
def test_an_invented_http_method_is_counted_as_other(client, scrape):
    before = scrape().value(
        "maaledu_http_requests_total", method="OTHER", route="healthz", status="4xx"
    )

    client.generic("BREW", "/healthz")

    after = scrape().value(
        "maaledu_http_requests_total", method="OTHER", route="healthz", status="4xx"
    )
    assert after == (before or 0) + 1


# --- Counters the lead calls from grants and courses -------------------------------------------


@pytest.mark.django_db
def test_coupon_refusals_and_cache_reads_move_their_counters(scrape):
    before = scrape()

    metrics.record_coupon_refusal("expired")
    metrics.record_coupon_refusal("expired")
    metrics.record_coupon_refusal("Jane <jane@example.com> typed a wrong code")
    metrics.record_cache(hit=True, cache_name="catalog_page")
    metrics.record_cache(hit=False, cache_name="catalog_page")
    metrics.record_cache(hit=False, cache_name="catalog_page")
    after = scrape()

    def delta(name, **labels):
        return (after.value(name, **labels) or 0) - (before.value(name, **labels) or 0)

    assert delta("maaledu_coupon_refusals_total", reason="expired") == 2
    assert delta("maaledu_coupon_refusals_total", reason="other") == 1
    assert delta("maaledu_cache_requests_total", cache="catalog_page", result="hit") == 1
    assert delta("maaledu_cache_requests_total", cache="catalog_page", result="miss") == 2
    assert "jane" not in after.text


def test_in_multiprocess_mode_the_scrape_adds_up_every_process(tmp_path):
    """Under gunicorn each worker counts on its own; PROMETHEUS_MULTIPROC_DIR sums them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = "from common.metrics import record_coupon_refusal; record_coupon_refusal('held')"
    read = (
        "from prometheus_client import generate_latest; from common.metrics import live_registry; "
        "print(generate_latest(live_registry()).decode())"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], cwd=BASE_DIR, env=env, check=True)

    result = subprocess.run(
        [sys.executable, "-c", read],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )

    assert 'maaledu_coupon_refusals_total{reason="held"} 2.0' in result.stdout


# --- Business metrics, read from the database --------------------------------------------------


@pytest.mark.django_db
def test_checkout_payment_refund_and_webhooks_move_the_business_metrics(
    client, scrape, django_capture_on_commit_callbacks
):
    EnrollmentFactory(
        stripe_session_id=SESSION_A,
        list_price_cents=3000,
        amount_due_cents=3000,
        currency="usd",
        course__price_cents=3000,
    )
    started = scrape()

    completed = fixture_event("checkout.session.completed")
    with django_capture_on_commit_callbacks(execute=True):  # lms_sync hears it: its job
        post_event(client, completed)
    paid = scrape()

    refund = fixture_event("charge.refunded")
    refund["data"]["object"].update(amount_refunded=1000, refunded=False)
    post_event(client, refund)
    # A dispute on a payment we do not know: Stripe must be asked, and it cannot be reached.
    post_event(client, fixture_event("charge.dispute.created"))
    refunded = scrape()

    assert started.value("maaledu_checkouts_started_total", kind="paid") == 1
    assert started.value("maaledu_checkouts_completed_total", kind="paid") == 0
    assert started.value("maaledu_enrollments", status="pending", kind="paid") == 1
    assert started.value("maaledu_revenue_gross_cents_total", currency="usd") is None

    assert paid.value("maaledu_checkouts_completed_total", kind="paid") == 1
    assert paid.value("maaledu_enrollments", status="paid", kind="paid") == 1
    assert paid.value("maaledu_revenue_gross_cents_total", currency="usd") == 3000
    assert paid.value("maaledu_revenue_net_cents", currency="usd") == 3000
    assert (
        paid.value("maaledu_stripe_events", type="checkout.session.completed", outcome="processed")
        == 1
    )
    assert paid.total("maaledu_lms_syncs", action="enrol") == 1
    assert paid.value("maaledu_stripe_event_last_received_timestamp_seconds") == pytest.approx(
        timezone.now().timestamp(), abs=60
    )

    assert refunded.value("maaledu_refunded_cents_total", currency="usd") == 1000
    assert refunded.value("maaledu_revenue_net_cents", currency="usd") == 2000
    assert refunded.value("maaledu_revenue_gross_cents_total", currency="usd") == 3000
    assert refunded.value("maaledu_stripe_events", type="charge.refunded", outcome="processed") == 1
    assert (
        refunded.value("maaledu_stripe_events", type="charge.dispute.created", outcome="failed")
        == 1
    )
    assert refunded.value("maaledu_stripe_events_received_total", type="charge.refunded") == 1
    assert refunded.value("maaledu_checkouts_completed_total", kind="paid") == 1


@pytest.mark.django_db
def test_lms_sync_metrics_count_jobs_and_age_the_oldest_due_one(scrape):
    now = timezone.now()
    enrollment_with_job(
        status=Enrollment.Status.PAID,
        lms_status=LmsSyncJob.Status.PENDING,
        lms_next_attempt_at=now - timedelta(minutes=10),
    )
    enrollment_with_job(
        status=Enrollment.Status.PAID,
        lms_status=LmsSyncJob.Status.PENDING,
        lms_next_attempt_at=now + timedelta(minutes=30),  # backing off: not due, not counted
    )
    enrollment_with_job(status=Enrollment.Status.PAID, lms_status=LmsSyncJob.Status.SYNCED)
    enrollment_with_job(status=Enrollment.Status.PAID, lms_status=LmsSyncJob.Status.FAILED)
    EnrollmentFactory()  # pending checkout: no LMS job

    result = scrape()

    assert result.value("maaledu_lms_syncs", status="pending", action="enrol") == 2
    assert result.value("maaledu_lms_syncs", status="synced", action="enrol") == 1
    assert result.value("maaledu_lms_syncs", status="failed", action="enrol") == 1
    assert result.total("maaledu_lms_syncs") == 4
    assert result.value("maaledu_lms_sync_oldest_due_age_seconds") == pytest.approx(600, abs=30)


@pytest.mark.django_db
def test_grant_affiliate_and_incident_metrics_come_from_their_tables(scrape):
    course = CourseFactory()
    now = timezone.now()
    redeemed = dict(
        status=Grant.Status.APPROVED,
        discount_percent=100,
        coupon_expires_at=now + timedelta(days=30),
        coupon_state=Grant.CouponState.REDEEMED,
        redeemed_at=now,
    )
    Grant.objects.create(
        name="A", email="a@example.com", course=course, statement="s", coupon_code="C1",
        redeemed_enrollment_id=sale_key(1), **redeemed,
    )  # fmt: skip
    Grant.objects.create(
        name="B", email="b@example.com", course=course, statement="s", coupon_code="C2",
        redeemed_enrollment_id=sale_key(2), **redeemed,
    )  # fmt: skip
    Grant.objects.create(name="C", email="c@example.com", course=course, statement="s")
    affiliate = Affiliate.objects.create(
        user=UserFactory(), payout_method="paypal", paypal_email="p@example.com",
        terms_accepted_at=now,
    )  # fmt: skip
    for visitor in ("v1", "v2", "v3"):
        ReferralClick.objects.create(affiliate=affiliate, visitor_key=visitor, day=now.date())
    Commission.objects.create(
        affiliate=affiliate, sale_id=sale_key(7), course=course,
        buyer_email_masked="j***@example.com",
        sold_at=now, currency="usd", sale_amount_cents=1000, rate_percent=10, amount_cents=100,
    )  # fmt: skip
    Incident.objects.create(kind=Incident.Kind.LMS_OVERDUE)

    result = scrape()

    assert result.value("maaledu_grants", status="approved", coupon_state="redeemed") == 2
    assert result.value("maaledu_grants", status="pending", coupon_state="none") == 1
    assert result.value("maaledu_coupon_redemptions") == 2
    assert result.value("maaledu_affiliate_clicks_total") == 3
    assert result.value("maaledu_affiliate_conversions_total") == 1
    assert result.value("maaledu_affiliate_commissions", status="pending") == 1
    assert result.value("maaledu_incidents_open", kind="lms_overdue") == 1
    assert result.value("maaledu_incidents_open", kind="lms_failures") == 0


@pytest.mark.django_db
def test_a_sale_refunded_in_full_is_counted_apart_from_the_conversions(scrape):
    from affiliates import services
    from affiliates.tests.factories import AffiliateFactory

    affiliate = AffiliateFactory()
    for sale_id in (1, 2, 3):
        services.record_commission(
            affiliate_id=affiliate.pk, sale_id=sale_key(sale_id), course_id=CourseFactory().pk,
            buyer_email="b@example.com", amount_paid_cents=10000, currency="usd",
            sold_at=timezone.now(),
        )  # fmt: skip
    services.reverse_commission(
        sale_id=sale_key(1), refunded_cents_total=10000, charged_cents=10000
    )
    services.reverse_commission(sale_id=sale_key(2), refunded_cents_total=4000, charged_cents=10000)

    result = scrape()

    assert result.value("maaledu_affiliate_conversions_total") == 3
    # Only the full refund: the partly refunded sale still earned a commission.
    assert result.value("maaledu_affiliate_conversions_refunded_total") == 1


@pytest.mark.django_db
def test_a_scrape_costs_the_same_eight_queries_whatever_the_data(
    client, settings, django_assert_num_queries
):
    settings.METRICS_TOKEN = METRICS_TOKEN
    course = CourseFactory()
    for index in range(40):
        enrollment_with_job(
            course=course,
            status=Enrollment.Status.PAID,
            lms_status=LmsSyncJob.Status.PENDING,
            currency=["usd", "eur"][index % 2],
        )
        StripeEvent.objects.create(event_id=f"evt_{index}", type="charge.refunded", payload={})
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    # One aggregate per family: enrollments, LMS jobs, Stripe events, grants, referral clicks,
    # commissions, incidents, outbox e-mails (failed ones wait for staff). A new family must
    # justify its query here.
    with django_assert_num_queries(8):
        response = client.get("/metrics", headers=headers)

    assert response.status_code == 200


@pytest.mark.django_db
def test_when_the_database_fails_the_scrape_still_answers_with_up_zero(scrape, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr("ops.collectors._grant_metrics", broken)

    result = scrape()

    assert result.value("maaledu_business_metrics_up") == 0
    assert result.value("maaledu_checkouts_started_total", kind="paid") is None
    assert "maaledu_http_requests_total" in result.text
    assert "event=metrics.database_error" in caplog.text


@pytest.mark.django_db
def test_failed_emails_in_the_outbox_are_counted(scrape, settings):
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    grant = GrantFactory()
    outbox.enqueue_email(
        key="test:1", to=[grant.email], template="grant_received", context={"grant": grant}
    )
    for _ in range(outbox.MAX_ATTEMPTS):  # each attempt once its backoff has passed
        outbox.deliver("test:1", as_of=outbox.find("test:1").next_attempt_at)

    result = scrape()

    assert result.value("maaledu_outbox_emails", status="failed") == 1
    assert result.value("maaledu_outbox_emails", status="sent") == 0
