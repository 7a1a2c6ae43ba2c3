"""Every rate limit: 429 with Retry-After past its threshold (JSON for JSON clients), keyed on the
trusted client address, and the documented behaviour when Redis (the counter store) is down."""

import json
import logging
import math
import time
from types import SimpleNamespace

import django_ratelimit.core
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from affiliates.cookies import REFERRAL_COOKIE
from affiliates.models import Affiliate, ReferralClick
from common import ratelimits
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment, StripeEvent
from enrollments.views import COUPON_CHECKS_DOWN
from fakes.stripe_server import sign
from grants.models import Grant
from grants.tests.factories import GrantFactory

pytestmark = pytest.mark.django_db

JSON = {"Accept": "application/json"}


def assert_limited(response, *, as_json: bool = False) -> None:
    assert response.status_code == 429, response.status_code
    assert "Retry-After" in response, "a 429 must say when to come back"
    assert int(response["Retry-After"]) > 0
    if as_json:
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"] == "rate_limited"
    else:
        assert response["Content-Type"].startswith("text/html")
        # The site layout, not a bare error page.
        assert "site-header" in response.text
        assert "Too many requests" in response.text


def checkout_path(course) -> str:
    return reverse("enrollments:checkout", args=[course.slug])


def client_at(ip: str, **kwargs) -> Client:
    client = Client(REMOTE_ADDR=ip, **kwargs)
    client.raise_request_exception = False
    return client


# --- Each limit, past its threshold ------------------------------------------------------------


def test_checkout_is_limited_per_ip(world, settings):
    settings.CHECKOUT_RATE_PER_IP = "3/h"
    client = client_at("198.51.100.7")

    statuses = [
        client.post(checkout_path(world.course), {"email": f"nope{n}"}).status_code
        for n in range(3)
    ]
    limited = client.post(checkout_path(world.course), {"email": "nope"})
    limited_json = client.post(checkout_path(world.course), {"email": "nope"}, headers=JSON)

    assert statuses == [400, 400, 400]
    assert_limited(limited)
    assert_limited(limited_json, as_json=True)


def test_checkout_is_limited_per_email_across_addresses(world, settings, fake_stripe):
    settings.CHECKOUT_RATE_PER_EMAIL = "2/h"
    post = {"email": "Flood@Example.com"}

    first = client_at("198.51.100.1").post(checkout_path(world.course), post)
    second = client_at("198.51.100.2").post(checkout_path(world.course), post)
    third = client_at("198.51.100.3").post(
        checkout_path(world.course), {"email": " flood@example.COM "}
    )

    # The second browser is told the checkout is open elsewhere (it is not handed over).
    assert (first.status_code, second.status_code) == (303, 400)
    assert_limited(third)
    assert Enrollment.objects.filter(email="flood@example.com").count() == 1


def test_verified_learners_each_have_their_own_checkout_limit(settings, fake_stripe):
    """Their form posts no e-mail (it is fixed to their verified one): they must not share one
    counter, and each is still limited on their own."""
    settings.CHECKOUT_RATE_PER_EMAIL = "2/h"
    courses = [CourseFactory() for _ in range(3)]
    learners = []
    for n in range(3):
        learner = client_at(f"198.51.100.{n + 10}")
        learner.force_login(UserFactory(email=f"learner{n}@example.com"))
        learners.append(learner)

    firsts = [learner.post(checkout_path(courses[0]), {}) for learner in learners]
    seconds = [learner.post(checkout_path(courses[1]), {}) for learner in learners]
    third = learners[0].post(checkout_path(courses[2]), {})

    assert [r.status_code for r in firsts + seconds] == [303] * 6
    assert_limited(third)


def test_coupon_attempts_are_limited_per_user(world, settings):
    settings.COUPON_RATE_PER_USER = "2/h"
    course = CourseFactory()
    client = world.client_for("learner")

    statuses = [
        client.post(checkout_path(course), {"email": "x", "coupon": f"MAAL-NOPE-{n}"})
        for n in range(2)
    ]
    limited = client.post(checkout_path(course), {"email": "x", "coupon": "MAAL-NOPE-9"})

    assert [response.status_code for response in statuses] == [400, 400]
    assert "not valid for your account" in statuses[0].text
    assert_limited(limited)


def test_coupon_attempts_are_limited_per_ip_across_accounts(world, settings):
    settings.COUPON_RATE_PER_IP = "2/h"
    course = CourseFactory()
    first, second = world.client_for("learner"), world.client_for("other_learner")

    first.post(checkout_path(course), {"email": "x", "coupon": "MAAL-NOPE-1"})
    first.post(checkout_path(course), {"email": "x", "coupon": "MAAL-NOPE-2"})
    limited = second.post(checkout_path(course), {"email": "x", "coupon": "MAAL-NOPE-3"})

    assert_limited(limited)


def test_a_checkout_without_a_coupon_does_not_use_up_coupon_attempts(world, settings, fake_stripe):
    settings.COUPON_RATE_PER_USER = settings.COUPON_RATE_PER_IP = "1/h"
    client = world.client_for("other_learner")

    for _ in range(3):
        assert client.post(checkout_path(world.course), {"email": "x"}).status_code == 303


def test_grant_applications_are_limited_per_ip(world, settings):
    settings.GRANT_APPLY_RATE_PER_IP = "2/h"
    client = client_at("198.51.100.9")

    statuses = [
        client.post("/grants/apply/", {"email": f"a{n}@example.com"}).status_code for n in range(2)
    ]
    limited = client.post("/grants/apply/", {"email": "a9@example.com"})

    assert statuses == [200, 200]  # the form again, with its errors
    assert_limited(limited)
    assert_limited(
        client.post("/grants/apply/", {"email": "b@example.com"}, headers=JSON), as_json=True
    )


def test_grant_applications_are_limited_per_email_across_addresses(world, settings):
    settings.GRANT_APPLY_RATE_PER_EMAIL = "2/h"

    for n in range(2):
        client_at(f"198.51.100.{n + 20}").post("/grants/apply/", {"email": "Same@Example.com"})
    limited = client_at("198.51.100.99").post("/grants/apply/", {"email": "same@example.com"})

    assert_limited(limited)


def test_grant_application_floods_send_no_more_emails_than_the_limit(
    world, settings, django_capture_on_commit_callbacks
):
    # Denial of wallet: each accepted application e-mails the applicant (and staff).
    settings.GRANT_APPLY_RATE_PER_IP = "100/h"
    settings.GRANT_APPLY_RATE_PER_EMAIL = "1/h"
    client = client_at("198.51.100.50")
    data = {"name": "Flood", "email": "victim@example.com", "statement": "x" * 150}

    with django_capture_on_commit_callbacks(execute=True):
        statuses = [
            client.post("/grants/apply/", {**data, "course": str(course.pk)}).status_code
            for course in (world.course, world.other_enrollment.course, world.hidden_course)
        ]

    assert statuses == [302, 429, 429]
    assert Grant.objects.filter(email="victim@example.com").count() == 1
    assert sum("victim@example.com" in message.to for message in mail.outbox) == 1


def test_affiliate_join_is_limited_per_user(world, settings):
    settings.AFFILIATE_JOIN_RATE = "2/h"
    client = world.client_for("learner")

    statuses = [
        client.post("/affiliates/join/", {"payout_method": "paypal"}).status_code for _ in range(2)
    ]
    limited = client.post("/affiliates/join/", {"payout_method": "paypal"})

    assert statuses == [200, 200]
    assert_limited(limited)
    assert not Affiliate.objects.filter(user=world.learner).exists()


def test_referral_clicks_past_the_limit_are_not_counted_and_the_page_still_works(world, settings):
    settings.REFERRAL_CLICK_RATE = "2/h"
    code = world.affiliate.referral_code

    # Click fraud: a fresh visitor (no cookies) per request, all from one address.
    responses = [client_at("198.51.100.77").get("/courses/", {"ref": code}) for _ in range(4)]

    assert [response.status_code for response in responses] == [200] * 4
    assert [REFERRAL_COOKIE in response.cookies for response in responses] == [
        True,
        True,
        False,
        False,
    ]
    assert ReferralClick.objects.filter(affiliate=world.affiliate).count() == 2


# --- allauth: login, signup, password reset ---------------------------------------------------


def _login(client, email="learner.one@example.com", password="wrong password"):
    return client.post("/accounts/login/", {"login": email, "password": password})


def _signup(client, n):
    return client.post(
        "/accounts/signup/",
        {"email": f"new{n}@example.com", "password1": "short", "password2": "short"},
    )


def _reset(client, n):
    return client.post("/accounts/password/reset/", {"email": f"someone{n}@example.com"})


@pytest.mark.parametrize(
    ("action", "rate", "send"),
    [
        ("login", "2/m/ip", lambda client, n: _login(client, f"user{n}@example.com")),
        ("signup", "2/m/ip", _signup),
        ("reset_password", "2/m/ip", _reset),
    ],
)
def test_allauth_limits_answer_429_in_the_site_layout_with_retry_after(
    world, settings, action, rate, send
):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, action: rate}
    client = client_at("198.51.100.30")

    first = [send(client, n).status_code for n in range(2)]
    limited = send(client, 3)

    assert 429 not in first
    assert_limited(limited)


def test_allauth_limits_answer_json_clients_with_json(world, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "1/m/ip"}
    client = client_at("198.51.100.31")
    _login(client)

    limited = client.post(
        "/accounts/login/", {"login": "a@example.com", "password": "x"}, headers=JSON
    )

    assert_limited(limited, as_json=True)


def test_credential_stuffing_on_one_account_is_stopped_across_addresses(world, settings):
    # login_failed: 5 failures per e-mail within 5 minutes, whichever address they come from.
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login": "1000/m/ip",
        "login_failed": "1000/m/ip,5/5m/key",
    }
    for n in range(5):
        assert _login(client_at(f"203.0.113.{n + 1}")).status_code == 200

    # Even the right password is refused now: the attacker cannot tell a hit from a miss.
    response = _login(client_at("203.0.113.99"), password="correct horse battery staple")

    assert "_auth_user_id" not in response.client.session
    assert "Too many failed login attempts" in response.text


def test_password_reset_floods_to_one_address_send_at_most_the_limit(world, settings):
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "reset_password": "1000/m/ip,2/m/key",
    }
    for n in range(6):
        client_at(f"203.0.113.{n + 1}").post(
            "/accounts/password/reset/", {"email": "learner.one@example.com"}
        )

    assert sum("learner.one@example.com" in message.to for message in mail.outbox) == 2


# --- The client address: the trusted proxy header only ----------------------------------------


def test_a_spoofed_x_forwarded_for_does_not_dodge_a_limit(world, settings):
    settings.GRANT_APPLY_RATE_PER_IP = "2/h"
    client = client_at("198.51.100.40")

    for n in range(2):
        client.post(
            "/grants/apply/",
            {"email": f"x{n}@example.com"},
            headers={"X-Forwarded-For": f"10.0.0.{n}", "X-Real-IP": f"10.1.0.{n}"},
        )
    limited = client.post(
        "/grants/apply/",
        {"email": "x9@example.com"},
        headers={"X-Forwarded-For": "10.9.9.9", "X-Real-IP": "10.9.9.8"},
    )

    assert_limited(limited)


def test_behind_a_proxy_the_configured_header_is_the_client_address(world, settings):
    settings.CLIENT_IP_META_KEY = "HTTP_X_REAL_IP"
    settings.GRANT_APPLY_RATE_PER_IP = "2/h"
    # Every request reaches Django from the proxy's address; the proxy sets X-Real-IP.
    proxy = client_at("10.0.0.1")

    def apply(real_ip, n, forwarded_for="203.0.113.250"):
        return proxy.post(
            "/grants/apply/",
            {"email": f"p{n}@example.com"},
            headers={"X-Real-IP": real_ip, "X-Forwarded-For": forwarded_for},
        )

    apply("203.0.113.1", 1)
    apply("203.0.113.1", 2)
    dodging = apply("203.0.113.1", 3, forwarded_for="192.0.2.77")
    neighbour = apply("203.0.113.2", 4)

    assert_limited(dodging)
    assert neighbour.status_code == 200


def test_behind_a_proxy_allauth_limits_use_the_configured_header_too(world, settings):
    # Otherwise every visitor shares the proxy's address: one attacker locks everyone out of
    # logging in, and a per-IP limit stops nobody in particular.
    settings.CLIENT_IP_META_KEY = "HTTP_X_REAL_IP"
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    proxy = client_at("10.0.0.1")

    for _ in range(3):
        proxy.post(
            "/accounts/login/",
            {"login": "a@example.com", "password": "x"},
            headers={"X-Real-IP": "203.0.113.66"},
        )
    neighbour = proxy.post(
        "/accounts/login/",
        {"login": "b@example.com", "password": "x"},
        headers={"X-Real-IP": "203.0.113.67"},
    )

    assert neighbour.status_code != 429, "another visitor behind the proxy was locked out"


# --- The Stripe webhook: never limited by IP, bounded in size ---------------------------------


def _signed_post(client, payload: bytes):
    return client.post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, "whsec_test_maaledu")},
    )


def test_the_webhook_is_not_rate_limited_by_ip(world, settings):
    for name in (
        "CHECKOUT_RATE_PER_IP",
        "CHECKOUT_RATE_PER_EMAIL",
        "COUPON_RATE_PER_IP",
        "GRANT_APPLY_RATE_PER_IP",
        "REFERRAL_CLICK_RATE",
    ):
        setattr(settings, name, "1/h")
    stripe = client_at("3.18.12.63")

    statuses = [
        _signed_post(
            stripe,
            json.dumps(
                {"id": f"evt_burst_{n}", "type": "customer.created", "data": {"object": {}}}
            ).encode(),
        ).status_code
        for n in range(25)
    ]

    assert statuses == [200] * 25
    assert StripeEvent.objects.filter(event_id__startswith="evt_burst_").count() == 25


def test_the_webhook_rejects_bodies_over_the_size_limit_and_stores_nothing(world, settings):
    settings.STRIPE_WEBHOOK_MAX_BYTES = 1024
    before = StripeEvent.objects.count()
    payload = json.dumps(
        {"id": "evt_big", "type": "customer.created", "data": {"object": {"pad": "x" * 2048}}}
    ).encode()

    response = _signed_post(client_at("3.18.12.63"), payload)

    assert response.status_code == 413
    assert StripeEvent.objects.count() == before


# --- Redis down -------------------------------------------------------------------------------


def test_with_redis_down_browsing_keeps_working(world, redis_down, caplog):
    client = client_at("198.51.100.60")

    for path in ("/courses/", f"/courses/{world.course.slug}/", "/grants/apply/"):
        assert client.get(path).status_code == 200, path
    referral = client.get("/courses/", {"ref": world.affiliate.referral_code})

    assert referral.status_code == 200
    assert REFERRAL_COOKIE in referral.cookies  # the click limit failed open


def test_with_redis_down_checkout_fails_open_and_logs_an_error(
    world, redis_down, fake_stripe, caplog
):
    caplog.set_level(logging.ERROR)

    response = client_at("198.51.100.61").post(
        checkout_path(world.course), {"email": "buyer.redis@example.com"}
    )

    assert response.status_code == 303
    assert Enrollment.objects.filter(email="buyer.redis@example.com").count() == 1
    assert any(
        "event=ratelimit.unavailable" in record.getMessage()
        and "fail_closed=False" in (record.getMessage())
        for record in caplog.records
    )


def test_with_redis_down_a_coupon_attempt_is_refused_with_a_clear_message(
    world, redis_down, fake_stripe
):
    course = CourseFactory()
    grant = GrantFactory(approved=True, email=world.other_learner.email, course=course)
    client = world.client_for("other_learner")
    enrollments = Enrollment.objects.count()

    response = client.post(checkout_path(course), {"email": "x", "coupon": grant.coupon_code})

    assert response.status_code == 400
    assert COUPON_CHECKS_DOWN in response.text
    assert Enrollment.objects.count() == enrollments
    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.AVAILABLE
    assert fake_stripe.requests == []


def test_with_redis_down_login_does_not_crash(world, redis_down):
    response = _login(client_at("198.51.100.62"))

    assert response.status_code != 500
    assert "site-header" in response.text


# --- Retry-After is the real wait ---------------------------------------------------------------


def stop_the_limiters_clock(monkeypatch, *, value: str, period: int, seconds_left: int) -> None:
    """Stop the clock the rate limiter reads (django-ratelimit's windows, our counting) at
    ``seconds_left`` before the end of ``value``'s window of ``period`` seconds. Windows are
    aligned per key value, so on the real clock a test could land anywhere in one: in its last
    minute (the wait is then in seconds) or across its end (the second request is counted in a
    new window and let through)."""
    now = django_ratelimit.core._get_window(value, period) - seconds_left
    clock = SimpleNamespace(time=lambda: now)
    monkeypatch.setattr(django_ratelimit.core, "time", clock)
    monkeypatch.setattr(ratelimits, "time", clock)


@pytest.mark.parametrize(
    ("seconds_left", "wait"), [(1800, "Please wait 30 minutes"), (42, "Please wait 42 seconds")]
)
def test_an_hourly_coupon_limit_sends_the_wait_until_its_window_resets(
    world, settings, monkeypatch, seconds_left, wait
):
    settings.COUPON_RATE_PER_USER = "1/h"
    course = CourseFactory()
    client = world.client_for("learner")
    stop_the_limiters_clock(
        monkeypatch, value=str(world.learner.pk), period=3600, seconds_left=seconds_left
    )
    client.post(checkout_path(course), {"email": "x", "coupon": "MAAL-NOPE-1"})

    limited = client.post(checkout_path(course), {"email": "x", "coupon": "MAAL-NOPE-2"})

    assert_limited(limited)
    assert int(limited["Retry-After"]) == seconds_left
    assert wait in limited.text


def test_an_hourly_grant_application_limit_sends_the_wait_until_its_window_resets(
    world, settings, monkeypatch
):
    settings.GRANT_APPLY_RATE_PER_IP = "1/h"
    client = client_at("198.51.100.61")
    stop_the_limiters_clock(monkeypatch, value="198.51.100.61", period=3600, seconds_left=1800)
    client.post("/grants/apply/", {"email": "a@example.com"})

    limited = client.post("/grants/apply/", {"email": "b@example.com"}, headers=JSON)

    assert_limited(limited, as_json=True)
    assert int(limited["Retry-After"]) == 1800


def test_an_hourly_affiliate_join_limit_sends_the_wait_until_its_window_resets(
    world, settings, monkeypatch
):
    settings.AFFILIATE_JOIN_RATE = "1/h"
    client = world.client_for("learner")
    stop_the_limiters_clock(
        monkeypatch, value=str(world.learner.pk), period=3600, seconds_left=1800
    )
    client.post("/affiliates/join/", {"payout_method": "paypal"})

    limited = client.post("/affiliates/join/", {"payout_method": "paypal"})

    assert_limited(limited)
    assert int(limited["Retry-After"]) == 1800


def test_an_allauth_limit_sends_the_wait_until_its_oldest_hit_leaves_the_window(world, settings):
    # allauth's windows slide: the wait ends when the first of the two counted resets leaves it.
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "reset_password": "2/5m/ip"}
    client = client_at("198.51.100.62")
    first_sent = time.time()
    _reset(client, 1)
    first_done = time.time()
    _reset(client, 2)

    before = time.time()
    limited = _reset(client, 3)
    after = time.time()

    assert_limited(limited)
    wait = int(limited["Retry-After"])
    assert math.ceil(first_sent + 300 - after) <= wait <= math.ceil(first_done + 300 - before)


def test_an_hourly_account_export_limit_sends_the_wait_until_its_window_resets(
    world, settings, monkeypatch
):
    settings.ACCOUNT_EXPORT_RATE = "1/h"
    client = world.client_for("learner")
    stop_the_limiters_clock(
        monkeypatch, value=str(world.learner.pk), period=3600, seconds_left=1800
    )
    client.post("/account/export/")

    limited = client.post("/account/export/")

    assert_limited(limited)
    assert int(limited["Retry-After"]) == 1800
