"""Browser-side defences: CSP with no inline code in our pages, framing and sniffing headers,
cookie flags (base and production), no CORS, CSRF on every form with the webhook alone exempt,
and user input rendered escaped."""

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from maaledu.tests.test_access_control import ROWS

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


# --- Content-Security-Policy ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/courses/", "/grants/apply/", "/accounts/login/", "/healthz"])
def test_every_response_carries_a_strict_csp(client, path):
    response = client.get(path)

    directives = csp_directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    header = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in header
    assert "'unsafe-eval'" not in header
    assert "*" not in header.replace("*.", "")  # no wildcard source


def test_csp_allows_forms_to_post_only_to_us_and_stripe_checkout(client):
    form_action = csp_directives(client.get("/courses/"))["form-action"]

    assert form_action[0] == "'self'"
    assert "https://checkout.stripe.com" in form_action
    assert all(
        source.startswith(("'self'", "https://checkout.stripe.com", "http://127.0.0.1"))
        for source in form_action
    )


class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts and styles, event handler
    attributes and javascript: URLs."""

    # JSON data blocks are not executed; any other script without src is inline code.
    DATA_SCRIPTS = ("application/json", "application/ld+json")

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if (
            tag == "script"
            and "src" not in attributes
            and attributes.get("type") not in self.DATA_SCRIPTS
        ):
            self.problems.append(f"<script> without src: {self.get_starttag_text()}")
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>: {self.get_starttag_text()}")
            if name.startswith("on"):
                self.problems.append(f"event handler {name} on <{tag}>")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")


def inline_code_in(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.problems


def test_the_inline_code_finder_finds_what_csp_would_block():
    # The scanner itself must be able to fail.
    assert inline_code_in("<script>alert(1)</script>")
    assert inline_code_in('<p style="color:red">x</p>')
    assert inline_code_in("<style>p{}</style>")
    assert inline_code_in('<button onclick="x()">x</button>')
    assert inline_code_in('<a href="javascript:x()">x</a>')
    assert not inline_code_in('<script src="/static/x.js" defer></script><p class="a">x</p>')


def _main_pages(world, fake_stripe_url=None):
    """(who, path, client) for each page a visitor can reach, in the state that shows most."""
    pages = []
    anonymous = world.client_for("anonymous")
    for path in (
        "/courses/",
        "/courses/?q=security&level=beginner",
        f"/courses/{world.course.slug}/",
        f"/courses/{world.course.slug}/checkout/",
        f"/courses/{world.course.slug}/checkout/canceled/",
        "/grants/apply/",
        f"/grants/apply/?course={world.course.slug}",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/accounts/password/reset/done/",
        "/accounts/password/reset/key/1-not-a-key/",
        "/accounts/password/reset/key/done/",
        "/accounts/confirm-email/",
        "/accounts/confirm-email/not-a-real-key/",
        "/accounts/inactive/",
        "/no-such-page/",
    ):
        pages.append(("anonymous", path, anonymous))
    learner = world.client_for("learner")
    for path in (
        f"/courses/{world.other_enrollment.course.slug}/checkout/",
        "/my/courses/",
        reverse("enrollments:enrollment_status", args=[world.enrollment.pk]),
        reverse("enrollments:enrollment_status_fragment", args=[world.enrollment.pk]),
        f"/checkout/success/?session_id={world.enrollment.stripe_session_id}",
        "/affiliates/join/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/accounts/logout/",
        "/accounts/reauthenticate/",
    ):
        pages.append(("learner", path, learner))
    pages.append(("affiliate", "/affiliates/dashboard/", world.client_for("affiliate")))
    return pages


def test_our_pages_need_no_inline_script_or_style(world, settings):
    settings.CHECKOUT_RATE_PER_IP = "100000/m"
    problems = []
    for who, path, client in _main_pages(world):
        response = client.get(path)
        assert response.status_code in (200, 404), f"{who} {path}: {response.status_code}"
        for problem in inline_code_in(response.text):
            problems.append(f"{who} GET {path}: {problem}")
    assert not problems, "\n".join(problems)


def test_form_error_pages_need_no_inline_script_or_style(world, settings, fake_stripe):
    anonymous = world.client_for("anonymous")
    applicant = world.client_for("anonymous")
    responses = {
        "checkout with a bad e-mail": anonymous.post(
            f"/courses/{world.course.slug}/checkout/", {"email": "nope"}
        ),
        "checkout as an anonymous coupon user": anonymous.post(
            f"/courses/{world.course.slug}/checkout/",
            {"email": "a@example.com", "coupon": "MAAL-2222-3333-4444-5555"},
        ),
        "grant apply with errors": applicant.post("/grants/apply/", {"email": "x"}),
        "login failure": anonymous.post("/accounts/login/", {"login": "a@b.c", "password": "x"}),
        "signup errors": anonymous.post("/accounts/signup/", {"email": "x"}),
        "affiliate join errors": world.client_for("learner").post(
            "/affiliates/join/", {"payout_method": "bank"}
        ),
        "self-referral notice": _self_referral_checkout(world),
    }
    fake_stripe.fail_next(status=400, error_type="invalid_request_error", count=1)
    responses["payment provider error"] = anonymous.post(
        f"/courses/{world.course.slug}/checkout/", {"email": "stripe.down@example.com"}
    )
    assert responses["payment provider error"].status_code == 503
    settings.GRANT_APPLY_RATE_PER_IP = "0/h"
    responses["429 page"] = applicant.post("/grants/apply/", {"email": "x"})
    assert responses["429 page"].status_code == 429

    problems = [
        f"{name}: {problem}"
        for name, response in responses.items()
        for problem in inline_code_in(response.text)
    ]
    assert not problems, "\n".join(problems)


def _self_referral_checkout(world):
    client = world.client_for("affiliate")
    client.get("/courses/", {"ref": world.affiliate.referral_code})
    response = client.post(f"/courses/{world.course.slug}/checkout/", {"email": "x"})
    assert "cannot earn a commission on your own purchase" in response.text
    return response


def test_the_grant_thanks_page_needs_no_inline_script_or_style(world):
    client = world.client_for("anonymous")
    session = client.session
    session["grants:applied"] = {"email": "a@example.com", "course": "Security Fundamentals"}
    session.save()

    response = client.get("/grants/apply/thanks/")

    assert response.status_code == 200
    assert inline_code_in(response.text) == []


def test_the_csrf_failure_page_needs_no_inline_style(world):
    # What a visitor sees after submitting a form from a page left open past its session.
    response = Client(enforce_csrf_checks=True).post("/grants/apply/", {"email": "x"})

    assert response.status_code == 403
    assert inline_code_in(response.text) == []


def test_the_500_page_needs_no_inline_script_or_style():
    html = (BASE_DIR / "templates" / "500.html").read_text()

    assert inline_code_in(html) == []


# --- Framing, sniffing, referrer, permissions -------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/courses/", "/accounts/login/", "/grants/apply/", "/admin/login/"]
)
def test_pages_cannot_be_framed_or_sniffed(client, path):
    response = client.get(path)

    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in response["Permissions-Policy"]


# --- Cookies ----------------------------------------------------------------------------------


def test_base_settings_make_the_session_cookie_httponly_and_both_cookies_samesite():
    assert django_settings.SESSION_COOKIE_HTTPONLY is True
    assert django_settings.SESSION_COOKIE_SAMESITE in ("Lax", "Strict")
    assert django_settings.CSRF_COOKIE_SAMESITE in ("Lax", "Strict")


def test_the_cookies_actually_sent_carry_those_flags(world):
    client = Client()
    login_page = client.get("/accounts/login/")
    csrf_cookie = login_page.cookies[django_settings.CSRF_COOKIE_NAME]

    client.post(
        "/accounts/login/",
        {"login": world.learner.email, "password": "correct horse battery staple"},
    )
    session_cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]

    assert session_cookie["httponly"] is True
    assert session_cookie["samesite"] == "Lax"
    assert csrf_cookie["samesite"] == "Lax"


def _production(code: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "maaledu.settings.production",
        "DJANGO_SECRET_KEY": "production-like-secret-key-with-enough-entropy-0123456789-abcdef",
        "DJANGO_ALLOWED_HOSTS": "testserver,maaledu.example.com",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_production_settings_make_cookies_secure_and_turn_on_hsts():
    values = json.loads(
        _production(
            "import json, django; django.setup(); from django.conf import settings as s; "
            "print(json.dumps({k: getattr(s, k) for k in ("
            "'DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
            "'SESSION_COOKIE_SAMESITE', 'CSRF_COOKIE_SAMESITE', 'SECURE_SSL_REDIRECT', "
            "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_PROXY_SSL_HEADER', "
            "'X_FRAME_OPTIONS', 'SECURE_CONTENT_TYPE_NOSNIFF')}))"
        )
    )

    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["X_FRAME_OPTIONS"] == "DENY"


def test_production_sends_hsts_on_https_and_redirects_plain_http():
    headers = json.loads(
        _production(
            "import json, django; django.setup(); from django.test import Client; "
            "c = Client(); s = c.get('/healthz', secure=True); p = c.get('/courses/'); "
            "print(json.dumps({'hsts': s.get('Strict-Transport-Security', ''), "
            "'plain': p.status_code, 'location': p.get('Location', '')}))"
        )
    )

    assert "max-age=31536000" in headers["hsts"]
    assert "includeSubDomains" in headers["hsts"]
    assert headers["plain"] == 301
    assert headers["location"].startswith("https://")


# --- No CORS ----------------------------------------------------------------------------------


def test_no_response_allows_cross_origin_reads(world):
    assert not any("cors" in app for app in django_settings.INSTALLED_APPS)
    origin = {"Origin": "https://evil.example"}
    checked = 0
    for rows in ROWS.values():
        for row in rows:
            for persona in ("anonymous", "learner"):
                client = world.client_for(persona)
                path = row.path(world)
                for response in (
                    client.get(path, headers=origin),
                    client.options(
                        path,
                        headers={**origin, "Access-Control-Request-Method": "POST"},
                    ),
                ):
                    checked += 1
                    cors = [h for h in response.headers if h.lower().startswith("access-control-")]
                    assert not cors, f"{path} answered {cors}"
    assert checked > 100


# --- CSRF -------------------------------------------------------------------------------------


def test_every_url_refuses_a_post_without_a_csrf_token_except_the_webhook(world):
    problems = []
    for name, rows in ROWS.items():
        path = rows[0].path(world)
        for persona in ("anonymous", "learner", "staff"):
            client = Client(enforce_csrf_checks=True)
            user = world.user_of(persona)
            if user is not None:
                client.force_login(user)
            response = client.post(path, {"email": "a@example.com", "login": "a@example.com"})
            if name == "enrollments:stripe_webhook":
                if response.status_code == 403:
                    problems.append(f"{persona} POST {path}: the webhook must be CSRF exempt")
            elif response.status_code != 403:
                problems.append(f"{persona} POST {path}: {response.status_code}, not 403")
    assert not problems, "\n".join(problems)


def test_admin_forms_and_actions_refuse_a_post_without_a_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.staff)

    for path, data in (
        ("/admin/login/", {"username": "x", "password": "y"}),
        ("/admin/logout/", {}),
        (
            "/admin/grants/grant/",
            {"action": "approve_selected", "_selected_action": [world.other_grant.pk]},
        ),
        (f"/admin/courses/course/{world.course.pk}/change/", {"title": "Hijacked"}),
        ("/admin/ops/lms/retry/", {"enrollment_id": [world.enrollment.pk]}),
    ):
        assert client.post(path, data).status_code == 403, path
    world.course.refresh_from_db()
    assert world.course.title == "Security Fundamentals"


def test_the_webhook_is_csrf_exempt_but_still_needs_stripes_signature():
    response = Client(enforce_csrf_checks=True).post(
        "/webhooks/stripe/", data=b"{}", content_type="application/json"
    )

    assert response.status_code == 400


def test_every_form_we_render_carries_a_csrf_token(world):
    for who, path, client in _main_pages(world):
        html = client.get(path).text
        post_forms = html.lower().count('method="post"')
        tokens = html.count('name="csrfmiddlewaretoken"')
        assert tokens >= post_forms, f"{who} {path}: {post_forms} forms, {tokens} tokens"


# --- XSS: what a visitor typed comes back escaped ---------------------------------------------

PAYLOAD = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def test_reflected_input_is_escaped(world):
    client = world.client_for("anonymous")
    responses = [
        client.get("/courses/", {"q": PAYLOAD, "level": PAYLOAD, "page": PAYLOAD}),
        client.get(f"/courses/{world.course.slug}/checkout/", {"coupon": PAYLOAD[:40]}),
        client.post(f"/courses/{world.course.slug}/checkout/", {"email": PAYLOAD}),
        client.post("/grants/apply/", {"name": PAYLOAD, "email": PAYLOAD, "statement": PAYLOAD}),
        client.get("/grants/apply/", {"course": PAYLOAD}),
        client.post("/accounts/login/", {"login": PAYLOAD, "password": PAYLOAD}),
        client.post("/accounts/signup/", {"email": PAYLOAD}),
        client.get("/accounts/login/", {"next": PAYLOAD}),
    ]
    for response in responses:
        assert response.status_code < 500
        assert "<script>alert(1)" not in response.text
        assert inline_code_in(response.text) == []


def test_stored_input_is_escaped_on_the_affiliate_dashboard_and_status_pages(world):
    world.commission.buyer_email_masked = PAYLOAD[:254]
    world.commission.save(update_fields=["buyer_email_masked"])
    world.course.title = PAYLOAD
    world.course.save(update_fields=["title"])

    pages = [
        world.client_for("affiliate").get("/affiliates/dashboard/"),
        world.client_for("learner").get(
            reverse("enrollments:enrollment_status", args=[world.enrollment.pk])
        ),
        world.client_for("learner").get("/my/courses/"),
    ]
    for response in pages:
        assert response.status_code == 200
        assert "<script>alert(1)" not in response.text
        assert inline_code_in(response.text) == []


def test_an_open_redirect_through_next_is_refused(world):
    response = Client().post(
        "/accounts/login/?next=https://evil.example/steal",
        {"login": world.learner.email, "password": "correct horse battery staple"},
    )

    assert response.status_code == 302
    assert not response["Location"].startswith(("https://evil.example", "//evil.example"))
