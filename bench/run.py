"""``python -m bench``: the site under load beside a floor, one endpoint after another.

One run: a fresh PostgreSQL database (migrated, seeded), an emptied Redis database, the fake
Stripe in this process, then the floor (a bare view over the same settings and middleware) on
its own gunicorn, then the site's gunicorn, each endpoint warmed up and loaded by wrk. Every
server, the fake and the database are gone when it ends, however it ends.
"""

import argparse
import contextlib
import functools
import logging
import os
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import django
import redis

from fakes.frappe_server import FakeFrappe
from fakes.latency import FRAPPE, STRIPE, Latency
from fakes.stripe_server import FakeStripe

from .load import Load, LoadResult, run_wrk, wrk_path
from .site import (
    FRAPPE_API_KEY,
    FRAPPE_API_SECRET,
    PRODUCTION_SERVER,
    PRODUCTION_WORKER,
    BenchError,
    Server,
    ServerSampler,
    Services,
    Worker,
    check_services,
    drop_database,
    flush_redis,
    free_port,
    recreate_database,
    site_environment,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/maaledu_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
# Webhook events are signed before their load and Stripe's SDK accepts them for 300 s.
MAX_SECONDS = 240
SCALING_POINTS = "1000,10000,100000,1000000"
# The scaling curve is flat when p95 at the largest history is within this factor of the smallest.
FLAT_FACTOR = 1.5
# Above this many cores taken by other programs during a load, the report says the machine was
# not quiet.
CONTENDED_CORES = 0.2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Load the site beside a bare-Django floor."
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--smoke", action="store_true", help="a small data set and a few seconds per endpoint"
    )
    parser.add_argument(
        "--mix",
        action="store_true",
        help="the launch-day mix at --mix-connections, beside each kind alone (with --smoke: "
        "the small data set)",
    )
    mode.add_argument(
        "--scaling",
        action="store_true",
        help="only the affiliate dashboard, as the affiliate's history grows (see --points)",
    )
    parser.add_argument("--seconds", type=int, help="load per endpoint and round (10; smoke: 2)")
    parser.add_argument("--warmup", type=int, help="unmeasured load before each (2; smoke: 1)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds of floor and endpoints (3)"
    )
    parser.add_argument(
        "--no-instructions",
        dest="instructions",
        action="store_false",
        help="skip the instruction counts (callgrind)",
    )
    parser.add_argument(
        "--instruction-requests", type=int, default=10, help="requests counted per endpoint (10)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, load each endpoint once more under py-spy: flame graphs (SVG) "
        "beside the JSON report",
    )
    parser.add_argument(
        "--instructions-only",
        action="store_true",
        help="no loads: only the instruction counts (quick and deterministic)",
    )
    parser.add_argument(
        "--record-instructions",
        action="store_true",
        help="store this run's instruction counts as the baseline of its mode",
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--server",
        default=PRODUCTION_SERVER,
        help=f"the server command, without --bind (the production one: {PRODUCTION_SERVER!r})",
    )
    parser.add_argument("--mix-seconds", type=int, default=60, help="the mix's length (60)")
    parser.add_argument("--mix-connections", type=int, default=64)
    parser.add_argument(
        "--alone-seconds", type=int, default=10, help="each kind alone before the mix (10)"
    )
    parser.add_argument(
        "--stripe-latency",
        help='the fake Stripe\'s answer delay, "<median ms>,p99=<ms>,max=<ms>" or "off" '
        f"(default {STRIPE.describe()}; off with --smoke)",
    )
    parser.add_argument(
        "--frappe-latency",
        help=f"the fake Frappe LMS's answer delay, as --stripe-latency (default "
        f"{FRAPPE.describe()}; off with --smoke; the mix's Celery worker calls it)",
    )
    parser.add_argument(
        "--worker",
        default=PRODUCTION_WORKER,
        help=f"the mix's Celery worker command (the production one: {PRODUCTION_WORKER!r})",
    )
    parser.add_argument(
        "--drain-seconds",
        type=int,
        default=1200,
        help="after the mix, how long the worker may take to enrol every paid learner (1200)",
    )
    parser.add_argument(
        "--points", default=SCALING_POINTS, help=f"commissions, with --scaling ({SCALING_POINTS})"
    )
    parser.add_argument(
        "--database-url",
        help=f"a PostgreSQL database the bench may drop ({DEFAULT_DATABASE_URL}[_smoke])",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help=f"a Redis database the bench may flush ({DEFAULT_REDIS_URL})",
    )
    parser.add_argument("--output", type=Path, help="the JSON report (bench/results/<time>.json)")
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    options = parser.parse_args(argv)
    options.seconds = options.seconds or (2 if options.smoke else 10)
    options.warmup = options.warmup or (1 if options.smoke else 2)
    options.database_url = options.database_url or os.environ.get(
        "BENCH_DATABASE_URL", DEFAULT_DATABASE_URL + ("_smoke" if options.smoke else "")
    )
    if not 1 <= options.seconds + options.warmup <= MAX_SECONDS:
        parser.error(f"--seconds plus --warmup must be 1 to {MAX_SECONDS} (webhook signatures)")
    if options.mix and options.scaling:
        parser.error("--mix and --scaling are separate runs")
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not 1 <= options.threads <= options.connections:
        parser.error("--threads must be 1 to --connections")
    if not options.server.startswith("gunicorn maaledu.wsgi"):
        parser.error("--server must start with 'gunicorn maaledu.wsgi'")
    # Off in the smoke mode's endpoint runs (quick, deterministic), on in every other run.
    off = options.smoke and not options.mix
    options.stripe_latency = _latency(
        parser, "--stripe-latency", options.stripe_latency, STRIPE, off
    )
    options.frappe_latency = _latency(
        parser, "--frappe-latency", options.frappe_latency, FRAPPE, off
    )
    if not options.worker.startswith("celery -A maaledu worker"):
        parser.error("--worker must start with 'celery -A maaledu worker'")
    options.points = sorted({int(point) for point in options.points.split(",")})
    return options


def _latency(parser, flag: str, given: str | None, default: Latency, off: bool) -> Latency | None:
    if given is None:
        return None if off else default
    try:
        return Latency.parse(given)
    except ValueError as error:
        parser.error(f"{flag}: {error}")


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        report = run(options)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        raise SystemExit(2)
    for problem in report["problems"]:
        print(f"bench: PROBLEM: {problem}", file=sys.stderr)
    raise SystemExit(1 if report["problems"] else 0)


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds the with-blocks: servers stop, database drops


def run(options: argparse.Namespace) -> dict:
    if wrk_path() is None:
        raise BenchError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    from .instructions import valgrind_path

    counting = options.instructions and not (options.scaling or options.mix)
    if counting and valgrind_path() is None:
        raise BenchError(
            "valgrind is not installed: `make bench` installs it (apt-get install valgrind), "
            "or pass --no-instructions"
        )
    services = check_services(options.database_url, options.redis_url)
    kind = "scaling" if options.scaling else "smoke" if options.smoke else "full"
    kind = f"mix-{kind}" if options.mix else kind
    started = datetime.now(UTC)
    from .report import RESULTS_DIR

    suffix = "" if kind == "full" else f"-{kind}"
    path = options.output or RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}{suffix}.json"
    options.flame_dir = path.with_name(path.stem + "-flame")
    with (
        tempfile.TemporaryDirectory(prefix="maaledu-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work_dir = Path(tmp)
        recreate_database(services)
        if not options.keep_db:
            stack.callback(drop_database, services)
        flush_redis(services)
        stack.callback(flush_redis, services)
        fake_stripe = stack.enter_context(FakeStripe(latency=options.stripe_latency))
        # Only the mix runs a Celery worker, so only it needs an LMS to enrol learners in.
        options.fake_frappe = (
            stack.enter_context(
                FakeFrappe(
                    FRAPPE_API_KEY,
                    FRAPPE_API_SECRET,
                    site="127.0.0.1",
                    latency=options.frappe_latency,
                )
            )
            if options.mix
            else None
        )
        app_port = free_port()
        env = site_environment(
            services=services,
            site_url=f"http://127.0.0.1:{app_port}",
            stripe_url=fake_stripe.url,
            static_root=work_dir / "static",
            frappe_url=options.fake_frappe.url if options.fake_frappe else "",
        )
        os.environ.update(env)
        django.setup()
        # This process's own requests (the probes) would log a line each; the servers' go to
        # their log files.
        logging.disable(logging.INFO)
        from django.db import connections

        stack.callback(connections.close_all)  # before the database is dropped
        report = {
            "kind": kind,
            "started_at": started.isoformat(timespec="seconds"),
            **_prepare(options),
        }
        servers = _Servers(
            env=env,
            app_port=app_port,
            command=options.server,
            work_dir=work_dir,
            services=functools.partial(_service_processes, services),
        )
        if options.scaling:
            report.update(_scaling(options, servers))
        elif options.mix:
            report.update(_mix(options, servers))
        elif options.instructions_only:
            report.update(_instructions_only(options, servers))
        else:
            report.update(_endpoints(options, servers))
        report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        report["machine"] = _machine(services)
    from .report import write_json

    print(f"\nJSON report: {write_json(report, path)}")
    return report


def _prepare(options: argparse.Namespace) -> dict:
    """Migrate, collect static files, seed; timed."""
    from django.core.management import call_command

    from . import seed

    data = seed.SCALING_BASE if options.scaling else seed.SMOKE if options.smoke else seed.FULL
    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    prepared = time.monotonic()
    seed.seed(data)
    seed.analyze()
    seeded = time.monotonic()
    print(
        f"bench: migrated and collected static in {prepared - started:.0f} s, "
        f"seeded {data} in {seeded - prepared:.0f} s"
    )
    return {
        "config": {
            "seconds": options.seconds,
            "warmup": options.warmup,
            "connections": options.connections,
            "wrk_threads": options.threads,
            "server": options.server,
            "production_server": options.server == PRODUCTION_SERVER,
            "stripe_latency": (
                options.stripe_latency.as_dict() if options.stripe_latency else None
            ),
            "rounds": options.rounds,
            "settings": "maaledu.settings.production via bench.settings (STATIC_ROOT only)",
            "data": asdict(data),
        },
        "seed_seconds": round(seeded - prepared, 1),
    }


class _Servers:
    def __init__(self, *, env: dict, app_port: int, command: str, work_dir: Path, services):
        self.env, self.app_port, self.command, self.work_dir = env, app_port, command, work_dir
        self.services = services

    def floor(self) -> Server:
        return Server(
            name="floor",
            env={**self.env, "DJANGO_SETTINGS_MODULE": "bench.floor_settings"},
            port=free_port(),
            command=self.command,
            log=self.work_dir / "floor.log",
            services=self.services,
        )

    def app(self) -> Server:
        return Server(
            name="site",
            env=self.env,
            port=self.app_port,
            command=self.command,
            log=self.work_dir / "site.log",
            services=self.services,
        )


def _context(options: argparse.Namespace, server: Server, work_dir: Path):
    from django.conf import settings
    from django.test import Client

    from accounts.models import User
    from courses.models import Course

    from . import seed
    from .endpoints import Context, _csrf

    user = User.objects.select_related("affiliate").get(email=seed.AFFILIATE_EMAIL)
    client = Client()
    client.force_login(user)
    course_slugs = list(Course.objects.order_by("pk").values_list("slug", flat=True))
    # A signed-in browser also holds the CSRF cookie of the pages it has seen (the sign-in
    # form's, the logout button's), so its pages reuse that secret instead of minting one.
    csrf_cookie, _token = _csrf(server.url, f"/courses/{course_slugs[0]}/checkout/")
    return Context(
        url=server.url,
        work_dir=work_dir,
        tag=f"b{secrets.token_hex(3)}",
        load=Load(connections=options.connections, threads=options.threads),
        affiliate_id=user.affiliate.pk,
        session_cookie=(
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
            f"; {csrf_cookie}"
        ),
        csrf_cookie=csrf_cookie,
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
        course_slugs=course_slugs,
        referral_code=user.affiliate.referral_code,
    )


def _measure(
    endpoint,
    server: Server,
    ctx,
    options: argparse.Namespace,
    *,
    round_no: int = 1,
    probe_after: bool = True,
) -> tuple[dict, LoadResult]:
    """Check one sample answer (first round), warm up, load while sampling the server, then
    (``probe_after``) probe requests in-process (caches as warm as under load). Returns the
    round's row and wrk's result."""
    from . import probe

    print(f"bench: {endpoint.name} (round {round_no}) …", flush=True)
    if round_no == 1:
        probe.check_over_http(server.url, endpoint, endpoint.sample(0))
    run_wrk(
        url=server.url,
        script_path=endpoint.script,
        args=endpoint.args(f"w{round_no}", options.warmup),
        seconds=options.warmup,
        load=ctx.load,
    )
    phase = f"r{round_no}"
    args = endpoint.args(phase, options.seconds)
    _analyze_as_autovacuum_would()
    sampler = ServerSampler(server, limit_seconds=options.seconds + 120)
    with sampler:
        result = run_wrk(
            url=server.url,
            script_path=endpoint.script,
            args=args,
            seconds=options.seconds,
            load=ctx.load,
        )
    probed = None
    if endpoint.in_process_probe and probe_after:
        host = server.url.removeprefix("http://")
        probe.in_process(endpoint, endpoint.sample(1), host=host)  # warms this process
        probed = probe.in_process(endpoint, endpoint.sample(2), host=host)
    row = {
        "name": endpoint.name,
        "label": endpoint.label,
        "round": round_no,
        "load": result.as_dict(),
        "cpu": sampler.cpu(requests=result.requests, wrk_cpu_s=result.wrk_cpu_s),
        "memory": sampler.memory(),
        "probe": probed,
        "problems": [],
    }
    if result.requests == 0:
        row["problems"].append(f"{endpoint.name}: no request was answered")
    if result.failed:
        row["problems"].append(
            f"{endpoint.name}: {result.failed} of {result.requests} requests failed "
            f"{result.errors} (see the server log lines above)"
        )
        print(server.log_tail(), file=sys.stderr)
    if endpoint.effect is not None:
        row["effect_rows"] = endpoint.effect(phase)
        if row["effect_rows"] < result.requests:
            row["problems"].append(
                f"{endpoint.name}: {result.requests} answers but only {row['effect_rows']} "
                "rows changed: requests repeated or did nothing"
            )
    return row, result


def _analyze_as_autovacuum_would() -> None:
    from .statistics import analyze_as_autovacuum_would

    analyzed = analyze_as_autovacuum_would()
    if analyzed:
        print(f"bench: analyzed {', '.join(analyzed)} (autovacuum is off here)", flush=True)


def _service_processes(services: Services) -> tuple[list[int], int]:
    """The Redis server and the PostgreSQL backends serving the site (every connection to the
    bench database but this process's own), and the postmaster (their parent)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        backends = [pid for (pid,) in cursor.fetchall()]
        cursor.execute("SELECT pg_backend_pid()")
        (own,) = cursor.fetchone()
    postmaster = int(Path(f"/proc/{own}/stat").read_text().rsplit(")", 1)[1].split()[1])
    redis_server = _redis(services).info("server")["process_id"]
    return [redis_server, *backends], postmaster


def _endpoints(options: argparse.Namespace, servers: _Servers) -> dict:
    """The floor and every endpoint, interleaved: round after round, the floor then each
    endpoint, so a slow minute of the machine lands on all of them alike."""
    from . import endpoints, probe
    from .report import aggregate, compare, floor_spread, table

    with servers.floor() as floor_server, servers.app() as app_server:
        ctx = _context(options, app_server, servers.work_dir)
        floor_endpoint = endpoints.floor(ctx)
        app_endpoints = [build(ctx) for build in endpoints.APP_ENDPOINTS]
        rounds: dict[str, list[dict]] = {e.name: [] for e in [floor_endpoint, *app_endpoints]}
        for round_no in range(1, options.rounds + 1):
            row, result = _measure(floor_endpoint, floor_server, ctx, options, round_no=round_no)
            rounds["floor"].append(row)
            ctx.floor_rps = max(ctx.floor_rps, result.rps)
            for endpoint in app_endpoints:
                row, _result = _measure(
                    endpoint,
                    app_server,
                    ctx,
                    options,
                    round_no=round_no,
                    probe_after=round_no == options.rounds,
                )
                rounds[endpoint.name].append(row)
        if options.profile:
            flames = _profile(options, ctx, floor_endpoint, floor_server, app_endpoints, app_server)
        instructions = _instructions(options, [floor_endpoint, *app_endpoints], app_server)
    floor_row = aggregate(rounds["floor"])
    rows = [aggregate(rounds[endpoint.name]) for endpoint in app_endpoints]
    by_name = {row["name"]: row for row in [floor_row, *rows]}
    for endpoint, row in zip(app_endpoints, rows, strict=True):
        row.update(compare(row, floor_row, endpoint.target, by_name, instructions))
        if row["met"] is False and row["probe"]:
            row["explain"] = probe.explain(row["probe"]["slowest_query"])
    spread = floor_spread(rounds["floor"])
    print()
    print(table([floor_row, *rows], instructions))
    if spread["over_limit"]:
        print(
            f"\nbench: WARNING: the floor's own spread between rounds passes 10 % "
            f"(CPU ms/request {spread['cpu_ms']:.0%}, req/s {spread['rps']:.0%}): the ratios "
            "to the floor are only as good as that; the instruction counts are not affected."
        )
    for row in rows:
        if row["met"] is False and row["probe"]:
            print(_miss(row))
    problems = [
        problem for runs in rounds.values() for row in runs for problem in row.pop("problems")
    ]
    problems += instructions.get("problems", [])
    other = max(row["cpu"]["cores"]["other"] for runs in rounds.values() for row in runs)
    if other > CONTENDED_CORES:
        print(
            f"\nbench: WARNING: programs outside the bench took up to {other:.2f} cores during "
            "the loads: requests/s and latencies are worse than on a quiet machine, and the "
            "ratios to the floor are only as fair as the contention was even. CPU ms per "
            "request, and the instruction counts above all, are the figures to compare."
        )
    return {
        "contended": other > CONTENDED_CORES,
        "flame_graphs": flames if options.profile else {},
        "floor_spread": spread,
        "floor": floor_row,
        "endpoints": rows,
        "instructions": instructions,
        "memory": {
            "floor": floor_row["memory"],
            "site_peak_rss_mb": max(row["memory"]["peak_rss_mb"] for row in rows),
            "site_peak_pss_mb": max(row["memory"]["peak_pss_mb"] for row in rows),
        },
        "problems": problems,
    }


def _profile(options, ctx, floor_endpoint, floor_server, app_endpoints, app_server) -> dict:
    """Each endpoint loaded once more (not measured) while py-spy samples the server's workers:
    one flame graph per endpoint, in ``<results>/<run>-flame/``."""
    import shutil
    import subprocess

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out_dir = options.flame_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    flames = {}
    for endpoint in [floor_endpoint, *app_endpoints]:
        server = floor_server if endpoint.name == "floor" else app_server
        path = out_dir / f"{endpoint.name}.svg"
        print(f"bench: {endpoint.name} under py-spy …", flush=True)
        args = endpoint.args(f"p{options.rounds + 1}", options.seconds)
        spy_process = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(server.process.pid),
                "--subprocesses",
                "--nonblocking",
                "--rate",
                "200",
                "--duration",
                str(options.seconds),
                "--format",
                "flamegraph",
                "--output",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        run_wrk(
            url=server.url,
            script_path=endpoint.script,
            args=args,
            seconds=options.seconds,
            load=ctx.load,
        )
        try:
            _out, err = spy_process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy_process.kill()
            _out, err = spy_process.communicate()
        if path.exists():
            flames[endpoint.name] = str(path.relative_to(path.parents[1]))
        else:
            print(f"bench: py-spy wrote no flame graph for {endpoint.name}: {err[-500:]}")
    return flames


def _instructions_only(options: argparse.Namespace, servers: _Servers) -> dict:
    from . import endpoints

    with servers.app() as app_server:
        ctx = _context(options, app_server, servers.work_dir)
        ctx.floor_rps = 100.0
        every = [endpoints.floor(ctx), *(build(ctx) for build in endpoints.APP_ENDPOINTS)]
        counted = _instructions(options, every, app_server)
    print()
    for name, entry in counted["endpoints"].items():
        change = "" if entry["change"] is None else f" ({entry['change']:+.1%} on the baseline)"
        print(f"{name:<10} {entry['per_request']:>12,} Ir/req {entry['floor_x']:>6.2f}×{change}")
    return {"instructions": counted, "problems": counted["problems"]}


def _instructions(options: argparse.Namespace, all_endpoints: list, app_server: Server) -> dict:
    """Instructions per request of the floor and each endpoint under callgrind (see
    ``bench/instructions.py``), beside the stored baseline; {} with ``--no-instructions``."""
    from . import instructions

    if not options.instructions:
        return {}
    print("bench: counting instructions per request under callgrind …", flush=True)
    started = time.monotonic()
    n, first = options.instruction_requests, 100
    plan = []
    # The webhook's events are signed now and valid for 300 s: counted first.
    for endpoint in sorted(all_endpoints, key=lambda e: e.name != "webhook"):
        samples = [endpoint.sample(first + index) for index in range(3 + n)]
        # A page is warm once this process has served it (its copy in memory): the GETs are
        # warmed on the very paths measured; a POST changes state, so each is new.
        warm = samples[:3] + (samples[3:] if samples[0].method == "GET" else [])
        plan.append(
            instructions.plan_entry(
                endpoint,
                warm=warm,
                measured=samples[3:],
                urlconf="bench.floor_urls" if endpoint.name == "floor" else None,
            )
        )
    counted = instructions.count(
        plan,
        host=app_server.url.removeprefix("http://"),
        env=dict(os.environ),
        work_dir=app_server.log.parent,
    )
    mode = "smoke" if options.smoke else "full"
    result = instructions.compare(counted, mode=mode)
    floor = counted["floor"]["per_request"]
    for name, entry in result["endpoints"].items():
        entry["floor_x"] = round(entry["per_request"] / floor, 2)
        entry["requests"] = counted[name]["requests"]
    result["seconds"] = round(time.monotonic() - started, 1)
    result["mode"] = mode
    if options.record_instructions:
        from .report import machine

        instructions.record(
            counted, mode=mode, machine=machine(None), commit=instructions.git_commit()
        )
        result["problems"] = []
        print(f"bench: instruction baseline for {mode} written to {instructions.BASELINE_PATH}")
    print(f"bench: instructions counted in {result['seconds']:.0f} s")
    return result


def _miss(row: dict) -> str:
    probe = row["probe"]
    lines = [
        f"\n{row['name']}: target {row['target']} missed. One request in-process: "
        f"{probe['wall_ms']:.1f} ms, of which Python CPU {probe['python_cpu_ms']:.1f} ms and "
        f"{probe['queries']} queries {probe['sql_ms']:.1f} ms; the slowest "
        f"({probe['slowest_query_ms']:.1f} ms):",
        f"  {probe['slowest_query']}",
    ]
    lines.extend(f"    {line}" for line in row.get("explain", []))
    return "\n".join(lines)


def _scaling(options: argparse.Namespace, servers: _Servers) -> dict:
    from affiliates.models import Affiliate

    from . import endpoints, probe, seed
    from .report import scaling_table

    rows, problems = [], []
    affiliate = Affiliate.objects.get(user__email=seed.AFFILIATE_EMAIL)
    with servers.app() as server:
        ctx = _context(options, server, servers.work_dir)
        referral_visit = endpoints.referral_visit(ctx, affiliate.referral_code)
        for commissions in options.points:
            started = time.monotonic()
            seed.add_affiliate_sales(
                affiliate,
                up_to=commissions,
                clicks_per_commission=seed.SCALING_BASE.clicks_per_commission,
            )
            seed.analyze()
            print(
                f"bench: {commissions:,} commissions seeded in {time.monotonic() - started:.0f} s"
            )
            endpoint = endpoints.dashboard(ctx)
            row, _result = _measure(endpoint, server, ctx, options)
            row["commissions"] = commissions
            row["explain"] = probe.explain(row["probe"]["slowest_query"])
            # A new visitor follows the affiliate's link, as happens all day: the first
            # dashboard after it shows what a visit costs when nothing is warm for it.
            host = server.url.removeprefix("http://")
            probe.in_process(referral_visit, referral_visit.sample(commissions), host=host)
            row["after_click_probe"] = probe.in_process(endpoint, endpoint.sample(3), host=host)
            problems.extend(row.pop("problems"))
            rows.append(row)
    first, last = rows[0]["load"]["latency_ms"]["p95"], rows[-1]["load"]["latency_ms"]["p95"]
    # A point whose requests failed has no true p95 (wrk leaves failures out): not flat.
    flat = not problems and last <= FLAT_FACTOR * first
    print()
    print(scaling_table(rows))
    print(
        f"\np95 {first:.0f} ms at {rows[0]['commissions']:,} commissions, {last:.0f} ms at "
        f"{rows[-1]['commissions']:,}: "
        + ("flat" if flat else f"NOT flat (flat: within {FLAT_FACTOR}×, every request answered)")
    )
    return {"scaling": rows, "flat": flat, "problems": problems}


def _mix(options: argparse.Namespace, servers: _Servers) -> dict:
    from courses.models import Course
    from fakes.demo_lms import add_demo_courses

    from .mix import run_mix
    from .report import markdown

    lms_courses = Course.objects.exclude(frappe_course="").values_list("frappe_course", flat=True)
    add_demo_courses(options.fake_frappe, sorted(set(lms_courses)))
    worker = Worker(env=servers.env, command=options.worker, log=servers.work_dir / "worker.log")
    with servers.app() as server:
        ctx = _context(options, server, servers.work_dir)
        try:
            result = run_mix(options, server, ctx, worker)
        finally:
            worker.stop()  # a warm shutdown, before the database goes
    print()
    print(markdown({"kind": "mix", "config": {"server": options.server}, **result}))
    return result


def _redis(services: Services) -> redis.Redis:
    return redis.Redis.from_url(services.redis_url, socket_timeout=5)


def _machine(services: Services) -> dict:
    from .report import machine

    return machine(_redis(services))
