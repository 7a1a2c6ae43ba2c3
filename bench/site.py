"""What the bench runs against: its own PostgreSQL database and Redis database on loopback, the
environment of the production settings, and gunicorn processes it starts, samples and stops."""

import contextlib
import http.client
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# The bench drops and recreates its database: it only touches databases named like this.
BENCH_DATABASE = re.compile(r"^maaledu_bench[a-z0-9_]*$")
# The production web server as README.md and docs/runbook.md give it (bench/tests hold them to
# this): threads, so requests waiting on Stripe's API do not hold a whole process. The bench runs
# exactly this, with ``--bind`` to a loopback port. Chosen by measurement: bench/README.md.
PRODUCTION_SERVER = "gunicorn maaledu.wsgi --workers 4 --worker-class gthread --threads 8"
# The production Celery worker as README.md gives it. Its work waits on Frappe LMS and Stripe
# (~300 ms a call), not on the CPU, so it runs more processes than cores (bench/README.md, the
# launch-day mix: how long it takes to enrol every learner the mix paid).
PRODUCTION_WORKER = "celery -A maaledu worker --loglevel=INFO --concurrency 16"
START_TIMEOUT = 60.0  # seconds for gunicorn to answer its first request
STOP_TIMEOUT = 15.0  # seconds for a graceful stop before the process group is killed


FRAPPE_API_KEY, FRAPPE_API_SECRET = "bench-key", "bench-secret"  # the fake Frappe's


class BenchError(Exception):
    """The bench cannot run or its measurements are not valid; the message says why."""


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str

    @property
    def database_name(self) -> str:
        return urllib.parse.urlsplit(self.database_url).path.lstrip("/")


def check_services(database_url: str, redis_url: str) -> Services:
    """Both on loopback, both answering, and the names safe to wipe; else ``BenchError``."""
    db, cache = urllib.parse.urlsplit(database_url), urllib.parse.urlsplit(redis_url)
    if db.scheme not in ("postgres", "postgresql"):
        raise BenchError(f"the bench needs PostgreSQL, not {db.scheme or database_url!r}")
    for url in (db, cache):
        if url.hostname not in LOOPBACK:
            raise BenchError(f"{url.hostname} is not a loopback address: the bench stays local")
    if not BENCH_DATABASE.match(db.path.lstrip("/")):
        raise BenchError(f"database {db.path.lstrip('/')!r} must be named maaledu_bench…")
    if cache.path.strip("/") in ("", "0"):
        raise BenchError("the bench flushes its Redis database: give it its own, e.g. /13")
    services = Services(database_url, redis_url)
    try:
        with _admin_connection(services):
            pass
    except psycopg.OperationalError as error:
        raise BenchError(f"PostgreSQL is unreachable at {db.hostname}:{db.port}: {error}")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5).ping()
    except redis.RedisError as error:
        raise BenchError(f"Redis is unreachable at {cache.hostname}:{cache.port}: {error}")
    return services


def _admin_connection(services: Services) -> psycopg.Connection:
    admin = urllib.parse.urlsplit(services.database_url)._replace(path="/postgres")
    return psycopg.connect(urllib.parse.urlunsplit(admin), autocommit=True, connect_timeout=5)


def recreate_database(services: Services) -> None:
    name = sql.Identifier(services.database_name)
    with _admin_connection(services) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


def drop_database(services: Services) -> None:
    name = sql.Identifier(services.database_name)
    with _admin_connection(services) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def flush_redis(services: Services) -> None:
    """Cached pages of an earlier run and queued Celery messages go."""
    redis.Redis.from_url(services.redis_url, socket_timeout=5).flushdb()


def site_environment(
    *,
    services: Services,
    site_url: str,
    stripe_url: str,
    static_root: Path,
    frappe_url: str = "",
) -> dict[str, str]:
    """The production settings' variables for a loopback site: plain HTTP (no TLS proxy in
    front), the fake Stripe, the fake Frappe when there is one (the mix's worker calls it), and
    nothing that would leave the machine (no Sentry, SendGrid or real LMS, whatever a local .env
    says)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "SITE_URL": site_url,
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
        "STRIPE_API_BASE": stripe_url,
        # All the load comes from one loopback address, which the per-IP limits would stop after
        # 30 checkouts or 60 referral clicks a minute; the limits are still checked on every
        # request.
        "CHECKOUT_RATE_PER_IP": "1000000/m",
        "REFERRAL_CLICK_RATE": "1000000/m",
        "BENCH_STATIC_ROOT": str(static_root),
        "SENTRY_DSN": "",
        "SENDGRID_API_KEY": "",
        "FRAPPE_URL": frappe_url,
        "FRAPPE_PUBLIC_URL": frappe_url,
        "FRAPPE_API_KEY": FRAPPE_API_KEY,
        "FRAPPE_API_SECRET": FRAPPE_API_SECRET,
        "FRAPPE_HOST_HEADER": "",
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _ProcessGroup:
    """A command started in its own process group, its output appended to ``log``: ``stop()``
    (also on a failed start) ends it and every process it forked, and nothing else."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def _start(self, command: list[str]) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        raise NotImplementedError

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop, Celery's warm shutdown: running work finishes),
        then SIGKILL to the whole group after ``STOP_TIMEOUT``."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)

    def pids(self) -> list[int]:
        """The command's process and the processes it forked (gunicorn's or Celery's workers)."""
        if self.process is None:
            return []
        master = self.process.pid
        found = [master]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if int(_stat_fields(int(entry.name))[1]) == master:  # field 4: the parent
                    found.append(int(entry.name))
        return found

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Worker(_ProcessGroup):
    """The Celery worker command (``PRODUCTION_WORKER``) on the site's environment, for the
    launch-day mix: it does what the web requests leave to Celery (the LMS enrolment against the
    fake Frappe, the confirmation e-mail, the invoice), beside the web server on the same
    cores."""

    def __init__(self, *, env: dict[str, str], command: str, log: Path):
        self.env, self.command, self.log = env, command, log

    def __enter__(self) -> "Worker":
        program, *args = self.command.split()
        name = f"bench-{os.getpid()}@%h"
        self._start(
            [
                sys.executable,
                "-m",
                program,
                *args,
                "-n",
                name,
                "--without-gossip",
                "--without-mingle",
            ]
        )
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the Celery worker exited at start:\n{self.log_tail()}")
            if " ready." in self.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise BenchError(f"the Celery worker was not ready in {START_TIMEOUT:.0f} s")


class Server(_ProcessGroup):
    """The production server command (``PRODUCTION_SERVER``, or another given to compare), on
    loopback."""

    def __init__(
        self,
        *,
        name: str,
        env: dict[str, str],
        port: int,
        command: str,
        log: Path,
        services: Callable[[], tuple[list[int], int]],
    ):
        self.name, self.env, self.port, self.command, self.log = name, env, port, command, log
        # () -> the pids of the services working for this server, and the PostgreSQL postmaster.
        self.services = services

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        program, *args = self.command.split()
        self._start([sys.executable, "-m", program, *args, "--bind", f"127.0.0.1:{self.port}"])
        return self

    def _wait_until_ready(self) -> None:
        """Until a worker has loaded Django and answers (any status will do)."""
        deadline = time.monotonic() + START_TIMEOUT
        for _ in range(int(START_TIMEOUT / 0.1)):
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} server exited at start:\n{self.log_tail()}")
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", "/")
                connection.getresponse().read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            finally:
                connection.close()
        raise BenchError(f"{self.name} server did not answer in {START_TIMEOUT:.0f} s")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int, path: str, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat from field 3 on (the command name before it may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_ticks(pids: list[int]) -> dict[int, int]:
    """User plus system CPU time of each process, in clock ticks."""
    ticks = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def _exited_children_ticks(pid: int) -> dict[int, int]:
    """CPU time of the process's children that have exited (for the PostgreSQL postmaster:
    parallel query and autovacuum workers, which live shorter than a load)."""
    with contextlib.suppress(OSError):
        fields = _stat_fields(pid)
        return {pid: int(fields[13]) + int(fields[14])}
    return {}


def _services_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """A backend that exited during the load reappears in the postmaster's exited-children time
    with all the CPU of its life, so what it had spent before the load is taken off."""
    gone = sum(ticks for pid, ticks in before.items() if pid > 0 and pid not in after)
    return _cpu_seconds(before, after) - gone / CLOCK_TICKS


def _services_ticks(pids: list[int], postmaster: int) -> dict[int, int]:
    # The postmaster's exited children under its negated pid, so no other pid collides.
    children = _exited_children_ticks(postmaster)
    return {**_cpu_ticks(pids), **{-pid: ticks for pid, ticks in children.items()}}


def _machine_busy_ticks() -> int:
    """Ticks all cores spent on anything but idling, since boot (first line of /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # less idle and iowait


def _cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / CLOCK_TICKS


def group_cpu_ticks(group: "_ProcessGroup") -> dict[int, int]:
    """CPU so far of a process group's processes (for ``group_cpu_seconds``)."""
    return _cpu_ticks(group.pids())


def group_cpu_seconds(group: "_ProcessGroup", before: dict[int, int]) -> float:
    """CPU the group's processes spent since ``before`` (theirs, from ``group_cpu_ticks``)."""
    return _cpu_seconds(before, group_cpu_ticks(group))


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class ServerSampler:
    """Where the CPU went while a load ran, and the server's memory.

    CPU: the server's processes and the services' work for it (``Server.services``: the Redis
    server, the PostgreSQL backends serving the site and the postmaster, whose exited children
    are the parallel query and autovacuum workers), whose sum per request is the cost of a
    request even when other programs compete for the cores; this process (the fake Stripe, the
    sampler); and all that the machine did. Memory: the peak of the server processes' summed
    RSS (shared pages counted in each process, as ``ps`` shows it) and summed PSS (shared pages
    divided among them: what they really cost), sampled every ``interval`` s.
    """

    server: Server
    limit_seconds: float
    interval: float = 0.25
    peak_rss_kb: int = 0
    peak_pss_kb: int = 0
    processes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _before: tuple = ()
    _spent: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> "ServerSampler":
        self._before = self._cpu_now()
        self._thread = threading.Thread(target=self._run, name="server-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        server, services, machine, bench, clock = self._before
        server_now, services_now, machine_now, bench_now, clock_now = self._cpu_now()
        self._spent = {
            "server": _cpu_seconds(server, server_now),
            "services": _services_seconds(services, services_now),
            "machine": (machine_now - machine) / CLOCK_TICKS,
            "bench": bench_now - bench,
            "seconds": clock_now - clock,
        }

    def _cpu_now(self) -> tuple:
        return (
            _cpu_ticks(self.server.pids()),
            _services_ticks(*self.server.services()),
            _machine_busy_ticks(),
            _own_cpu_seconds(),
            time.monotonic(),
        )

    def _run(self) -> None:
        for _ in range(int(self.limit_seconds / self.interval) + 1):
            pids = self.server.pids()
            self.processes = max(self.processes, len(pids))
            rss = sum(_status_kb(pid, "status", "VmRSS:") for pid in pids)
            pss = sum(_status_kb(pid, "smaps_rollup", "Pss:") for pid in pids)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            if self._stop.wait(self.interval):
                return

    def memory(self) -> dict:
        return {
            "peak_rss_mb": round(self.peak_rss_kb / 1024, 1),
            "peak_pss_mb": round(self.peak_pss_kb / 1024, 1),
            "processes": self.processes,
        }

    def cpu(self, *, requests: int, wrk_cpu_s: float) -> dict:
        """CPU per request of the site, and how many cores each party kept busy: ``other``
        is what programs outside the bench took from the site (0 on a quiet machine)."""
        spent = self._spent
        site = spent["server"] + spent["services"]
        other = max(0.0, spent["machine"] - site - wrk_cpu_s - spent["bench"])

        def cores(cpu_s: float) -> float:
            return round(cpu_s / spent["seconds"], 2)

        return {
            "ms_per_request": round(site * 1000 / requests, 3) if requests else None,
            "server_s": round(spent["server"], 2),
            "services_s": round(spent["services"], 2),  # PostgreSQL and Redis
            "cores": {
                "site": cores(site),
                "wrk": cores(wrk_cpu_s),
                "bench": cores(spent["bench"]),
                "other": cores(other),
                "machine": cores(spent["machine"]),
            },
        }
