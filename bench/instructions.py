"""Instructions per request, counted by valgrind's callgrind: the figure that repeats run to run
and carries across CPUs of one architecture, unlike seconds.

The bench writes a plan (for each endpoint: warm-up requests, then the measured ones, each a
request wrk would send) and runs this module under callgrind as its own process, with the
site's environment (production settings, the bench database and Redis, the bench's fake
Stripe). The driver loads Django once and sends every request through
``maaledu.wsgi.application`` as gunicorn does (a WSGI environ, the body read, ``close()``
called, so ``request_finished`` runs): the full middleware stack, caches warm.

Callgrind collects only inside ``sys.call_tracing`` (``--toggle-collect``), which nothing else
calls, and dumps its counters each time it returns (``--dump-after``), so each region leaves
one file with exactly its own instructions. For each endpoint the driver runs an empty region
and two with N/2 requests each: instructions per request = (I(N/2) − I(0)) / (N/2), the lower
of the two halves. Only this process is counted: PostgreSQL's and Redis's own work is in the
timed runs' CPU column.
"""

import contextlib
import gc
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

TOGGLE = "sys_call_tracing"
REGIONS_PREFIX = "BENCH_REGIONS "
BASELINE_PATH = Path(__file__).resolve().parent / "instructions_baseline.json"
# A count this much above the baseline fails the run. Counts repeat within 1 % for the pages
# and within about 5 % for checkout on a quiet machine; waits on a loaded one add a few % of
# polling in the I/O code.
TOLERANCE = 0.10
VALGRIND_TIMEOUT = 900  # seconds; Django starts in about 30 s under callgrind


def valgrind_path() -> str | None:
    return shutil.which("valgrind")


def request_dict(request) -> dict:
    return {
        "method": request.method,
        "path": request.path,
        "headers": request.headers,
        "body": request.body.decode("latin-1"),
    }


def plan_entry(endpoint, *, warm: list, measured: list, urlconf: str | None = None) -> dict:
    return {
        "name": endpoint.name,
        "urlconf": urlconf,
        "expect_status": endpoint.expect_status,
        "expect_text": endpoint.expect_text,
        "warm": [request_dict(request) for request in warm],
        "measured": [request_dict(request) for request in measured],
    }


def count(plan: list[dict], *, host: str, env: dict, work_dir: Path) -> dict:
    """Run the plan under callgrind; return, per endpoint, instructions per request and the
    region totals it came from."""
    from .site import BASE_DIR, BenchError

    plan_path, out = work_dir / "instructions-plan.json", work_dir / "callgrind.out"
    plan_path.write_text(json.dumps({"host": host, "endpoints": plan}))
    for old in work_dir.glob("callgrind.out*"):
        old.unlink()
    command = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--toggle-collect={TOGGLE}",
        f"--dump-after={TOGGLE}",
        "--dump-line=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "bench.instructions",
        str(plan_path),
    ]
    finished = subprocess.run(
        command,
        cwd=BASE_DIR,
        env={**env, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        timeout=VALGRIND_TIMEOUT,
        check=False,
    )
    regions = next(
        (
            json.loads(line[len(REGIONS_PREFIX) :])
            for line in finished.stdout.splitlines()
            if line.startswith(REGIONS_PREFIX)
        ),
        None,
    )
    if finished.returncode != 0 or regions is None:
        raise BenchError(
            f"the callgrind driver failed (exit {finished.returncode}):\n"
            f"{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
        )
    totals = [_total(Path(f"{out}.{index}")) for index in range(1, len(regions) + 1)]
    counted: dict[str, dict] = {}
    for (name, requests), total in zip(regions, totals, strict=True):
        entry = counted.setdefault(name, {"halves": []})
        if requests:
            entry["halves"].append((total, requests))
        else:
            entry["empty"] = total
    for entry in counted.values():
        # The cheaper half: waits on a loaded machine add polling loops to the I/O code (a
        # few % at most), never take instructions away.
        entry["per_request"] = min(
            round((total - entry["empty"]) / requests) for total, requests in entry["halves"]
        )
        entry["requests"] = sum(requests for _total, requests in entry["halves"])
    return counted


def _total(path: Path) -> int:
    from .site import BenchError

    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise BenchError(f"no callgrind totals in {path}")


def compare(counted: dict, *, mode: str, baseline_path: Path = BASELINE_PATH) -> dict:
    """Each endpoint's count beside the stored baseline of this mode; regressions beyond
    ``TOLERANCE`` are problems."""
    stored = json.loads(baseline_path.read_text()) if baseline_path.exists() else {}
    baseline = stored.get(mode, {}).get("per_request", {})
    rows, problems = {}, []
    for name, entry in counted.items():
        before = baseline.get(name)
        change = round(entry["per_request"] / before - 1, 4) if before else None
        rows[name] = {"per_request": entry["per_request"], "baseline": before, "change": change}
        if change is not None and change > TOLERANCE:
            problems.append(
                f"{name}: {entry['per_request']:,} instructions per request, "
                f"{change:+.1%} on the baseline's {before:,} (allowed: +{TOLERANCE:.0%}); if "
                "the cost is meant, record it: python -m bench --smoke --record-instructions"
            )
    return {"endpoints": rows, "tolerance": TOLERANCE, "problems": problems}


def record(
    counted: dict,
    *,
    mode: str,
    machine: dict,
    commit: str | None,
    baseline_path: Path = BASELINE_PATH,
) -> None:
    stored = json.loads(baseline_path.read_text()) if baseline_path.exists() else {}
    stored[mode] = {
        "commit": commit,
        "cpu": machine.get("cpu"),
        "python": machine.get("python"),
        "per_request": {name: entry["per_request"] for name, entry in counted.items()},
    }
    baseline_path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")


def git_commit() -> str | None:
    from .site import BASE_DIR

    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if done.returncode == 0 and re.fullmatch(r"[0-9a-f]+", done.stdout.strip()):
            return done.stdout.strip()
    return None


# --- The driver, run under callgrind ---------------------------------------------------------


def _environ(request: dict, host: str) -> dict:
    body = request["body"].encode("latin-1")
    path, _, query = request["path"].partition("?")
    server_name, _, port = host.partition(":")
    environ = {
        "REQUEST_METHOD": request["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": server_name,
        "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": host,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in request["headers"].items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    return environ


def _send(application, requests: list[dict], host: str, answers: list) -> None:
    status: list[str] = []

    def start_response(line, headers, exc_info=None):
        status.append(line)

    for request in requests:
        result = application(_environ(request, host), start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
        answers.append((int(status.pop().split()[0]), body))


def _check(entry: dict, answers: list) -> None:
    for status, body in answers:
        if status != entry["expect_status"] or entry["expect_text"].encode() not in body:
            raise SystemExit(
                f"{entry['name']}: answered {status}, expected {entry['expect_status']} "
                f"{entry['expect_text']}:\n{body[:800].decode(errors='replace')}"
            )


def _wait_for_the_version_feed() -> None:
    """As in a worker that has run a while: the version feed subscribed (pages in memory).

    Under callgrind a second of the wall clock is a few requests, so the feed's timers (its
    liveness, the 10 s re-confirmation of a version) would fire every few requests instead of
    once per thousands, and the counts would depend on timing: they are stretched here, and
    the counts are those of the steady state."""
    import time

    from common import version_feed

    version_feed.ALIVE_SECONDS = version_feed.TRUST_SECONDS = 24 * 3600.0
    feed = version_feed.feed()
    if feed is None:
        return
    feed.known("")  # starts the subscriber
    deadline = time.monotonic() + 60
    while not feed._alive(time.monotonic()) and time.monotonic() < deadline:
        time.sleep(0.05)


def drive(plan_path: Path) -> None:
    import logging

    import django

    django.setup()
    logging.disable(logging.INFO)
    from django.test.utils import override_settings

    from maaledu.wsgi import application

    plan = json.loads(plan_path.read_text())
    host, regions = plan["host"], []
    _wait_for_the_version_feed()
    for entry in plan["endpoints"]:
        urlconf = override_settings(ROOT_URLCONF=entry["urlconf"]) if entry["urlconf"] else None
        with urlconf or contextlib.nullcontext():
            answers: list = []
            _send(application, entry["warm"], host, answers)
            half = len(entry["measured"]) // 2
            for requests in ([], entry["measured"][:half], entry["measured"][half:]):
                gc.collect()
                sys.call_tracing(_send, (application, requests, host, answers))
                regions.append((entry["name"], len(requests)))
            _check(entry, answers)
    print(REGIONS_PREFIX + json.dumps(regions), flush=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or "DJANGO_SETTINGS_MODULE" not in os.environ:
        raise SystemExit("usage: DJANGO_SETTINGS_MODULE=… python -m bench.instructions PLAN")
    drive(Path(argv[0]))


if __name__ == "__main__":
    main()
