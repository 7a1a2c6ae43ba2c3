"""The endpoints under load: what wrk sends (script and arguments), one sample request like
those for the checks and the in-process probe, the answer expected, and the target.

Requests that change state never repeat: every checkout posts a new e-mail, every webhook
delivers a new event completing its own open checkout, signed just before its load.
"""

import http.client
import http.cookies
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

from fakes.stripe_server import API_VERSION, sign

from . import seed
from .load import Load, script
from .site import BenchError

CATALOG_PAGE_SIZE = 12
# The webhook events prepared for a load outnumber what the floor could serve in that time.
EVENT_POOL_MARGIN = 1.5


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Target:
    """CPU per request at most ``cpu_x`` times the floor's (judged on the median CPU× of the
    rounds and on the instruction ratio), a p95 bound, or at least ``rps_share`` of another
    endpoint's requests/s (``rps_of``)."""

    cpu_x: float | None = None
    p95_ms: float | None = None
    rps_of: str | None = None
    rps_share: float | None = None

    def describe(self) -> str:
        parts = []
        if self.cpu_x is not None:
            parts.append(f"CPU× ≤ {self.cpu_x:g}")
        if self.p95_ms is not None:
            parts.append(f"p95 < {self.p95_ms:g} ms")
        if self.rps_of is not None:
            parts.append(f"req/s ≥ {self.rps_share:g}× {self.rps_of}")
        return ", ".join(parts)


@dataclass
class Endpoint:
    name: str
    label: str
    script: Path
    # (phase, seconds) -> wrk script arguments; a phase is "w<round>" (warm-up) or "r<round>".
    args: Callable[[str, int], list[str]]
    # n -> the n-th sample request (each new, for endpoints that change state).
    sample: Callable[[int], Request]
    expect_status: int
    expect_text: str = ""
    target: Target | None = None
    # phase -> rows the phase's requests must have changed (one per answered request at least).
    effect: Callable[[str], int] | None = None
    in_process_probe: bool = True


@dataclass
class Context:
    """What the endpoints need from the run: the site, its data and the load's shape."""

    url: str
    work_dir: Path
    tag: str
    load: Load
    affiliate_id: int
    session_cookie: str  # the affiliate's session, and the CSRF cookie a browser holds
    csrf_cookie: str
    webhook_secret: str
    course_slugs: list[str]
    referral_code: str = ""
    floor_rps: float = 0.0


def _get(ctx: Context, name: str, label: str, paths: list[str], **options) -> Endpoint:
    cookie = options.pop("cookie", "-")
    return Endpoint(
        name=name,
        label=label,
        script=script("get", ctx.work_dir),
        args=lambda phase, seconds: [cookie, *paths],
        sample=lambda n: Request(
            "GET", paths[n % len(paths)], {"Cookie": cookie} if cookie != "-" else {}
        ),
        **options,
    )


def floor(ctx: Context) -> Endpoint:
    return _get(
        ctx,
        "floor",
        "GET /floor/ (bare view)",
        ["/floor/"],
        expect_status=200,
        expect_text="ok",
        in_process_probe=False,
    )


def healthz(ctx: Context) -> Endpoint:
    return _get(ctx, "healthz", "GET /healthz", ["/healthz"], expect_status=200)


def catalog(ctx: Context) -> Endpoint:
    pages = math.ceil(len(ctx.course_slugs) / CATALOG_PAGE_SIZE)
    paths = ["/courses/", *(f"/courses/?page={page}" for page in range(2, pages + 1))]
    return _get(
        ctx,
        "catalog",
        f"GET /courses/ (pages 1–{pages})",
        paths,
        expect_status=200,
        target=Target(cpu_x=1.5),
    )


def course_page(ctx: Context) -> Endpoint:
    paths = [f"/courses/{slug}/" for slug in ctx.course_slugs]
    return _get(
        ctx,
        "course",
        f"GET /courses/<slug>/ ({len(paths)} courses)",
        paths,
        expect_status=200,
        target=Target(cpu_x=1.5),
    )


def dashboard(ctx: Context) -> Endpoint:
    return _get(
        ctx,
        "dashboard",
        "GET /affiliates/dashboard/ (logged in)",
        ["/affiliates/dashboard/"],
        cookie=ctx.session_cookie,
        expect_status=200,
        expect_text="Referred sales",
        target=Target(cpu_x=4, p95_ms=50),
    )


def referral_visit(ctx: Context, code: str) -> Endpoint:
    """A new visitor arriving through the affiliate's link (records a click); for the scaling
    curve's probe, not loaded."""
    return _get(
        ctx, "referral", "GET /courses/?ref=<code>", [f"/courses/?ref={code}"], expect_status=200
    )


def referral(ctx: Context) -> Endpoint:
    """Visitors following the affiliate's link: without a visitor cookie each is new, so each
    request records a click (the per-IP limit is lifted for the bench, as for checkouts)."""
    paths = [f"/courses/?ref={ctx.referral_code}"]
    paths += [f"/courses/{slug}/?ref={ctx.referral_code}" for slug in ctx.course_slugs[:4]]
    before: dict[str, int] = {}

    def clicks() -> int:
        return _count(
            "SELECT count(*) FROM affiliates_referralclick WHERE affiliate_id = %s",
            [ctx.affiliate_id],
        )

    def args(phase: str, seconds: int) -> list[str]:
        before[phase] = clicks()
        return ["-", *paths]

    endpoint = _get(
        ctx,
        "referral",
        "GET /courses/…?ref=<code> (a new visitor: one click each)",
        paths,
        expect_status=200,
        target=Target(rps_of="catalog", rps_share=0.5),
    )
    endpoint.args = args
    endpoint.effect = lambda phase: clicks() - before[phase]
    return endpoint


def checkout(ctx: Context) -> Endpoint:
    paths = [f"/courses/{slug}/checkout/" for slug in ctx.course_slugs]
    cookie, token = _csrf(ctx.url, paths[0])

    def sample(n: int) -> Request:
        body = f"csrfmiddlewaretoken={token}&email={ctx.tag}s-{n}%40example.com&coupon="
        return Request(
            "POST",
            paths[n % len(paths)],
            {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            body.encode(),
        )

    def effect(phase: str) -> int:
        return _count(
            "SELECT count(*) FROM enrollments_enrollment WHERE email LIKE %s",
            [f"{ctx.tag}{phase}-%"],
        )

    return Endpoint(
        name="checkout",
        label="POST /courses/<slug>/checkout/",
        script=script("checkout", ctx.work_dir),
        args=lambda phase, seconds: [cookie, token, f"{ctx.tag}{phase}", *paths],
        sample=sample,
        expect_status=303,
        target=Target(cpu_x=10),
        effect=effect,
    )


def webhook(ctx: Context) -> Endpoint:
    def args(phase: str, seconds: int) -> list[str]:
        # Enough events that the load cannot run out: more than the floor could take.
        per_thread = math.ceil(ctx.floor_rps * seconds * EVENT_POOL_MARGIN / ctx.load.threads)
        rows = seed.add_pending_checkouts(
            tag=f"{ctx.tag}{phase}",
            count=(per_thread + 50) * ctx.load.threads,
            affiliate_id=ctx.affiliate_id,
        )
        prefix = ctx.work_dir / f"events-{phase}-"
        for thread in range(ctx.load.threads):
            lines = (
                _signed_event(row, ctx.webhook_secret) for row in rows[thread :: ctx.load.threads]
            )
            Path(f"{prefix}{thread}.txt").write_text("".join(f"{s}\t{b}\n" for s, b in lines))
        return [str(prefix)]

    def sample(n: int) -> Request:
        (row,) = seed.add_pending_checkouts(
            tag=f"{ctx.tag}s{n}", count=1, affiliate_id=ctx.affiliate_id
        )
        signature, body = _signed_event(row, ctx.webhook_secret)
        return Request(
            "POST",
            "/webhooks/stripe/",
            {"Content-Type": "application/json", "Stripe-Signature": signature},
            body.encode(),
        )

    def effect(phase: str) -> int:
        return _count(
            "SELECT count(*) FROM enrollments_enrollment"
            " WHERE stripe_session_id LIKE %s AND status = 'paid'",
            [f"cs_bench_{ctx.tag}{phase}\\_%"],
        )

    return Endpoint(
        name="webhook",
        label="POST /webhooks/stripe/ (checkout.session.completed)",
        script=script("webhook", ctx.work_dir),
        args=args,
        sample=sample,
        expect_status=200,
        expect_text='"fulfilled"',
        target=Target(cpu_x=8),
        effect=effect,
    )


# Measured in this order on the site's server, after the floor on its own server, each round.
APP_ENDPOINTS = (healthz, catalog, course_page, referral, dashboard, checkout, webhook)


def _signed_event(row: tuple, secret: str) -> tuple[str, str]:
    """A ``checkout.session.completed`` event for one open checkout, as Stripe sends it (the
    fields our handler and a reader of the stored payload look at), and its signature."""
    enrollment_id, session_id, amount, currency, email = row
    now = int(time.time())
    session = {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "client_reference_id": str(enrollment_id),
        "created": now - 120,
        "currency": currency,
        "customer_details": {"email": email, "name": None, "phone": None},
        "customer_email": email,
        "expires_at": now + 3600,
        "livemode": False,
        "metadata": {"enrollment_id": str(enrollment_id)},
        "mode": "payment",
        "payment_intent": f"pi_{session_id[3:]}",
        "payment_status": "paid",
        "status": "complete",
        "url": None,
    }
    event = {
        "id": f"evt_{session_id[3:]}",
        "object": "event",
        "api_version": API_VERSION,
        "created": now,
        "data": {"object": session},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }
    body = json.dumps(event, separators=(",", ":"))
    return sign(body, secret), body


def _csrf(url: str, path: str) -> tuple[str, str]:
    """The CSRF cookie and form token a browser gets with the checkout form (from the server
    under test, so the load passes Django's real CSRF check)."""
    response_cookies, body = http.cookies.SimpleCookie(), ""
    host, port = url.removeprefix("http://").split(":")
    client = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        client.request("GET", path)
        response = client.getresponse()
        for header in response.msg.get_all("Set-Cookie") or []:
            response_cookies.load(header)
        body = response.read().decode()
    finally:
        client.close()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if "csrftoken" not in response_cookies or match is None:
        raise BenchError(f"no CSRF cookie and token on GET {path}")
    return f"csrftoken={response_cookies['csrftoken'].value}", match.group(1)


def _count(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]
