"""The launch-day mix (``python -m bench --mix``, ``make bench-mix``): at 64 connections, 80 %
anonymous catalog and course pages (a fifth of them arriving through the affiliate's link,
each a new visitor whose click is recorded), 8 % signed-in pages (the affiliate dashboard, a
learner's courses), 6 % checkouts and 6 % webhooks, against a fake Stripe that answers with
Stripe's latency. Each kind is first loaded alone at the same connection count; afterwards the
database must show everything the mix was answered for: every click counted, every checkout
opened, every paid event fulfilled (its enrollment paid, its commission recorded).
"""

import argparse
import math
import secrets
import time
from pathlib import Path

from django.db import connection

from fakes.latency import Latency

from . import endpoints, seed
from .load import Load, run_wrk, script
from .site import Server, ServerSampler, Worker, group_cpu_seconds, group_cpu_ticks
from .statistics import analyze_as_autovacuum_would

LEARNER_EMAIL = "learner5@example.com"  # a seeded learner with paid enrollments
# (kind, weight in %, expected status); referral = catalog and course pages via ?ref=.
WEIGHTS = {
    "catalog": 32,
    "course": 32,
    "referral": 16,
    "dashboard": 4,
    "my_courses": 4,
    "checkout": 6,
    "webhook": 6,
}
PAGE_P95_FACTOR = 2.0  # catalog/course p95 under the mix ≤ this × alone
CHECKOUT_MARGIN_MS = 60.0  # checkout p95 ≤ Stripe's p95 + this
WEBHOOK_P95_MS = 60.0
EVENT_MARGIN = 2.0  # webhook events prepared per thread, beyond the expected share


def model_p95_ms(latency: Latency | None) -> float:
    """The 95th percentile of the model's waits (of many seeded draws)."""
    if latency is None:
        return 0.0
    draw = latency.sampler()
    waits = sorted(draw() for _ in range(20_000))
    return waits[int(len(waits) * 0.95)] * 1000


def _learner_cookie(csrf_cookie: str) -> str:
    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.test import Client

    from accounts.models import User

    user = User.objects.filter(email=LEARNER_EMAIL).first()
    if user is None:
        user = User.objects.create_user(LEARNER_EMAIL, password=None, name="Bench Learner")
        EmailAddress.objects.create(user=user, email=LEARNER_EMAIL, verified=True, primary=True)
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={session}; {csrf_cookie}"


def _count(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _my_courses(ctx, cookie: str) -> endpoints.Endpoint:
    return endpoints._get(
        ctx,
        "my_courses",
        "GET /my/courses/ (signed in)",
        ["/my/courses/"],
        cookie=cookie,
        expect_status=200,
    )


def run_mix(options: argparse.Namespace, server: Server, ctx, worker: Worker) -> dict:
    """Each kind alone, then the mix with the Celery worker running, then the worker's drain;
    the per-kind table with targets and the checks."""
    from .probe import check_over_http

    stripe_latency = options.stripe_latency

    alone_load = Load(connections=options.mix_connections, threads=min(4, options.mix_connections))
    ctx.load = alone_load
    learner_cookie = _learner_cookie(ctx.csrf_cookie)
    alone_endpoints = {
        "catalog": endpoints.catalog(ctx),
        "course": endpoints.course_page(ctx),
        "referral": endpoints.referral(ctx),
        "dashboard": endpoints.dashboard(ctx),
        "my_courses": _my_courses(ctx, learner_cookie),
        "checkout": endpoints.checkout(ctx),
        "webhook": endpoints.webhook(ctx),
    }
    alone: dict[str, dict] = {}
    for name, endpoint in alone_endpoints.items():
        print(f"bench: {name} alone at {alone_load.connections} connections …", flush=True)
        check_over_http(server.url, endpoint, endpoint.sample(0))
        args = endpoint.args("a", options.alone_seconds)
        analyze_as_autovacuum_would()
        result = run_wrk(
            url=server.url,
            script_path=endpoint.script,
            args=args,
            seconds=options.alone_seconds,
            load=alone_load,
        )
        alone[name] = {**result.as_dict(), "failed": result.failed}
        if name == "catalog":
            # The webhook's event pool is sized from the fastest throughput seen.
            ctx.floor_rps = max(ctx.floor_rps, result.rps)

    mix_dir = ctx.work_dir / "mix"
    mix_dir.mkdir(exist_ok=True)
    tag = f"m{secrets.token_hex(3)}"
    clicks_before = _count(
        "SELECT count(*) FROM affiliates_referralclick WHERE affiliate_id = %s", [ctx.affiliate_id]
    )
    expected_rps = max(ctx.floor_rps, 100.0)
    per_thread = (
        math.ceil(
            expected_rps
            * WEIGHTS["webhook"]
            / 100
            * options.mix_seconds
            * EVENT_MARGIN
            / options.mix_connections
        )
        + 10
    )
    _write_mix_files(mix_dir, ctx, tag, learner_cookie, per_thread, options.mix_connections)
    print(
        f"bench: the launch-day mix, {options.mix_connections} connections, "
        f"{options.mix_seconds} s …",
        flush=True,
    )
    analyze_as_autovacuum_would()
    # The worker starts now, so each kind alone is measured without it; it finds the alone
    # webhooks' LMS enrolments queued, as a worker would after a restart on launch day.
    with worker:
        sampler = ServerSampler(server, limit_seconds=options.mix_seconds + 120)
        worker_before = group_cpu_ticks(worker)
        with sampler:
            result = run_wrk(
                url=server.url,
                script_path=_mix_script(ctx.work_dir),
                args=[f"{mix_dir}/"],
                seconds=options.mix_seconds,
                load=Load(connections=options.mix_connections, threads=options.mix_connections),
                extra_prefix="BENCH_MIX ",
            )
        cpu = _mix_cpu(sampler, result, group_cpu_seconds(worker, worker_before))
        drain = _drain(options.drain_seconds)
    # Read once the worker has stopped: the fake LMS's own record of the enrolments.
    drain["in_lms"] = sum(
        str(row.get("member", "")).startswith("webhook")
        for row in options.fake_frappe.enrollments.values()
    )
    kinds = result.extra["kinds"]
    stripe_p95 = model_p95_ms(stripe_latency)
    rows = []
    for name, weight in WEIGHTS.items():
        kind = kinds.get(
            name, {"requests": 0, "errors": 0, "p50_us": 0, "p95_us": 0, "p99_us": 0, "max_us": 0}
        )
        row = {
            "name": name,
            "share": weight / 100,
            "requests": kind["requests"],
            "errors": kind["errors"],
            "p50": kind["p50_us"] / 1000,
            "p95": kind["p95_us"] / 1000,
            "p99": kind["p99_us"] / 1000,
            "max": kind["max_us"] / 1000,
            "alone_p95_ms": alone[name]["latency_ms"]["p95"],
            "alone_rps": alone[name]["rps"],
        }
        row.update(_target(name, row, stripe_p95))
        rows.append(row)
    checks = [*_checks(ctx, tag, kinds, clicks_before, result), lms_check(drain)]
    problems = [
        f"mix: {row['name']}: {row['errors']} of {row['requests']} answers unexpected"
        for row in rows
        if row["errors"]
    ]
    if result.failed:
        problems.append(f"mix: {result.failed} requests failed {result.errors}")
    if result.extra.get("webhook_events_ran_out"):
        problems.append("mix: the webhook events ran out; the mix sent other pages instead")
    problems += [f"mix: {check['what']}: {check['found']}" for check in checks if not check["met"]]
    problems += [
        f"mix: alone: {name}: {entry['failed']} requests failed"
        for name, entry in alone.items()
        if entry["failed"]
    ]
    return {
        "mix": {
            "connections": options.mix_connections,
            "seconds": options.mix_seconds,
            "alone_seconds": options.alone_seconds,
            "server": options.server,
            "latency": {
                "stripe": stripe_latency.describe() if stripe_latency else "none",
                "frappe": (options.frappe_latency.describe() if options.frappe_latency else "none"),
                "frappe_model": (
                    options.frappe_latency.as_dict() if options.frappe_latency else None
                ),
                "stripe_model": stripe_latency.as_dict() if stripe_latency else None,
                "stripe_p95_ms": round(stripe_p95, 1),
            },
            "total_requests": result.requests,
            "total_rps": round(result.rps, 1),
            "total_errors": result.failed + sum(row["errors"] for row in rows),
            "wrk": result.as_dict(),
            "cpu": cpu,
            "endpoints": rows,
            "alone": alone,
            "checks": checks,
            "worker": {"command": options.worker, **drain},
        },
        "problems": problems,
    }


def _mix_cpu(sampler: ServerSampler, result, worker_s: float) -> dict:
    """Where the cores went during the mix: the site (web server, PostgreSQL, Redis), the
    Celery worker, wrk, this process (the fakes) and anything else."""
    cpu = sampler.cpu(requests=result.requests, wrk_cpu_s=result.wrk_cpu_s)
    cores = cpu["cores"]
    seconds = result.seconds or 1.0
    cores["worker"] = round(worker_s / seconds, 2)
    cores["other"] = round(max(0.0, cores["other"] - cores["worker"]), 2)
    return cpu


def _target(name: str, row: dict, stripe_p95: float) -> dict:
    if name in ("catalog", "course"):
        limit = PAGE_P95_FACTOR * row["alone_p95_ms"]
        return {
            "target": f"0 errors, p95 ≤ {PAGE_P95_FACTOR:g}× alone ({limit:.0f} ms)",
            "met": row["errors"] == 0 and row["p95"] <= limit,
        }
    if name == "checkout":
        limit = stripe_p95 + CHECKOUT_MARGIN_MS
        return {
            "target": f"0 errors, p95 ≤ Stripe p95 + {CHECKOUT_MARGIN_MS:g} ({limit:.0f} ms)",
            "met": row["errors"] == 0 and row["p95"] <= limit,
        }
    if name == "webhook":
        return {
            "target": f"0 errors, p95 ≤ {WEBHOOK_P95_MS:g} ms",
            "met": row["errors"] == 0 and row["p95"] <= WEBHOOK_P95_MS,
        }
    return {"target": "0 errors", "met": row["errors"] == 0}


def _checks(ctx, tag: str, kinds: dict, clicks_before: int, result) -> list[dict]:
    """Nothing lost: what the database holds beside what the mix was answered for."""
    answered = {name: kind["requests"] - kind["errors"] for name, kind in kinds.items()}
    clicks = (
        _count(
            "SELECT count(*) FROM affiliates_referralclick WHERE affiliate_id = %s",
            [ctx.affiliate_id],
        )
        - clicks_before
    )
    opened = _count(
        "SELECT count(*) FROM enrollments_enrollment WHERE email LIKE %s", [f"{tag}c-%"]
    )
    session_like = f"cs_bench_{tag}w\\_%"
    paid = _count(
        "SELECT count(*) FROM enrollments_enrollment WHERE stripe_session_id LIKE %s"
        " AND status = 'paid'",
        [session_like],
    )
    referred_paid = _count(
        "SELECT count(*) FROM enrollments_enrollment WHERE stripe_session_id LIKE %s"
        " AND status = 'paid' AND affiliate_id IS NOT NULL",
        [session_like],
    )
    commissions = _count(
        "SELECT count(*) FROM affiliates_commission c JOIN enrollments_enrollment e"
        " ON e.id = c.sale_id WHERE e.stripe_session_id LIKE %s",
        [session_like],
    )
    return [
        {
            "what": "every click counted (new clicks ≥ referral answers)",
            "found": f"{clicks} clicks, {answered.get('referral', 0)} answers",
            "met": clicks >= answered.get("referral", 0),
        },
        {
            "what": "every checkout opened an enrollment",
            "found": f"{opened} enrollments, {answered.get('checkout', 0)} answers",
            "met": opened >= answered.get("checkout", 0),
        },
        {
            "what": "every paid event fulfilled (enrollment paid)",
            "found": f"{paid} paid, {answered.get('webhook', 0)} answers",
            "met": paid >= answered.get("webhook", 0),
        },
        {
            "what": "every referred sale has its commission",
            "found": f"{commissions} commissions, {referred_paid} referred sales paid",
            "met": commissions == referred_paid,
        },
    ]


# Every learner the bench pays through a webhook has a seeded e-mail like this.
_PAID_BY_WEBHOOK = "webhook%@example.com"


def _paid_and_enrolled() -> tuple[int, int]:
    """Learners paid through the bench's webhooks, and those of them whose LMS enrolment the
    worker finished."""
    paid = _count(
        "SELECT count(*) FROM enrollments_enrollment WHERE email LIKE %s AND status = 'paid'",
        [_PAID_BY_WEBHOOK],
    )
    enrolled = _count(
        "SELECT count(DISTINCT e.id) FROM enrollments_enrollment e"
        " JOIN lms_sync_lmssyncjob j ON j.enrollment_id = e.id"
        " WHERE e.email LIKE %s AND e.status = 'paid' AND j.action = 'enrol'"
        " AND j.status = 'synced'",
        [_PAID_BY_WEBHOOK],
    )
    return paid, enrolled


def _drain(seconds: int) -> dict:
    """Wait (at most ``seconds``) until the worker has enrolled every paid learner in the fake
    LMS; how long it took."""
    started = time.monotonic()
    paid, enrolled = _paid_and_enrolled()
    print(
        f"bench: the worker enrols the paid learners in the LMS ({enrolled}/{paid}) …", flush=True
    )
    while enrolled < paid and time.monotonic() - started < seconds:
        time.sleep(2)
        paid, enrolled = _paid_and_enrolled()
    return {
        "paid": paid,
        "enrolled": enrolled,
        "drain_seconds": round(time.monotonic() - started, 1),
        "drain_limit_seconds": seconds,
    }


def lms_check(drain: dict) -> dict:
    return {
        "what": "every paid learner enrolled in the LMS by the worker after the mix",
        "found": (
            f"{drain['enrolled']} of {drain['paid']} enrolled ({drain['in_lms']} in the fake LMS), "
            f"{drain['drain_seconds']:g} s after the mix (limit {drain['drain_limit_seconds']} s)"
        ),
        "met": drain["enrolled"] == drain["paid"] == drain["in_lms"],
    }


def _write_mix_files(
    mix_dir: Path, ctx, tag: str, learner_cookie: str, per_thread: int, threads: int
) -> None:
    """The kinds' config, the checkout form's CSRF pair and each thread's signed events."""
    catalog_paths = [endpoints.catalog(ctx).sample(n).path for n in range(10)]
    catalog_paths = sorted(set(catalog_paths))
    course_paths = [f"/courses/{slug}/" for slug in ctx.course_slugs]
    code = ctx.referral_code
    referral_paths = [f"{path}{'&' if '?' in path else '?'}ref={code}" for path in catalog_paths]
    referral_paths += [f"{path}?ref={code}" for path in course_paths]
    checkout_paths = [f"/courses/{slug}/checkout/" for slug in ctx.course_slugs]
    cookie, token = endpoints._csrf(ctx.url, checkout_paths[0])
    lines = [
        ("catalog", 200, "GET", "-", catalog_paths),
        ("course", 200, "GET", "-", course_paths),
        ("referral", 200, "GET", "-", referral_paths),
        ("dashboard", 200, "GET", ctx.session_cookie, ["/affiliates/dashboard/"]),
        ("my_courses", 200, "GET", learner_cookie, ["/my/courses/"]),
        ("checkout", 303, "CHECKOUT", "-", checkout_paths),
        ("webhook", 200, "WEBHOOK", "-", ["/webhooks/stripe/"]),
    ]
    (mix_dir / "config.txt").write_text(
        "".join(
            "\t".join([name, str(WEIGHTS[name]), str(status), method, cookie_value, *paths]) + "\n"
            for name, status, method, cookie_value, paths in lines
        )
    )
    (mix_dir / "checkout.txt").write_text(f"{cookie}\t{token}\t{tag}c\n")
    rows = seed.add_pending_checkouts(
        tag=f"{tag}w", count=per_thread * threads, affiliate_id=ctx.affiliate_id
    )
    for thread in range(threads):
        events = (endpoints._signed_event(row, ctx.webhook_secret) for row in rows[thread::threads])
        (mix_dir / f"events-{thread}.txt").write_text(
            "".join(f"{signature}\t{body}\n" for signature, body in events)
        )


def _mix_script(work_dir: Path) -> Path:
    return script("mix", work_dir)
