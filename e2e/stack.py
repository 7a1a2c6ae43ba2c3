"""The system under browser test, started on free loopback ports and always stopped again.

- a fresh database: a new PostgreSQL database beside the one ``DATABASE_URL`` names (dropped
  afterwards), or a temporary SQLite file when ``DATABASE_URL`` is not PostgreSQL; migrated and
  seeded with ``seed_demo``;
- the site under gunicorn (``DEBUG`` off), with a Redis database number of its own for the
  cache, the rate limits and the Celery broker (``RedisDatabase``: claimed, emptied after);
- a real Celery worker on that broker;
- the fake Stripe (``fakes.stripe_server``: its hosted page "pays" by completing the session and
  sending the signed ``checkout.session.completed`` webhook) and the fake Frappe LMS
  (``fakes.frappe_server``, with every seeded course's ``frappe_course`` and its outline from
  ``fakes.demo_lms``, read once into the site), both in this process on threads, so a test can
  look at what they received;
- e-mail written to files (``e2e.settings``), read through ``Mailbox``.

Every wait has a deadline, and every process is started in its own process group, which
``stop()`` terminates (and kills if it lingers). Run ``python -m e2e.stack`` to get the same
stack for a manual look; Ctrl-C stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from fakes.demo_lms import add_demo_courses
from fakes.frappe_server import FakeFrappe
from fakes.stripe_server import FakeStripe

from .mailbox import Mailbox

REPO = Path(__file__).resolve().parent.parent
# Credentials shared by the site and the local fakes only.
STRIPE_SECRET_KEY = "sk_test_e2e"  # noqa: S105
STRIPE_WEBHOOK_SECRET = "whsec_e2e"  # noqa: S105
FRAPPE_API_KEY = "e2e-key"
FRAPPE_API_SECRET = "e2e-secret"  # noqa: S105
STARTUP_SECONDS = 60
STOP_SECONDS = 10
COMMAND_SECONDS = 120


class StackError(RuntimeError):
    """The stack could not start; the message carries the failing process's log tail."""


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it; a tiny race is acceptable here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(
    condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.1
) -> object:
    """Poll ``condition`` until it returns something truthy; ``StackError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# The servers die with the test run even when it is killed without cleaning up: setpriv (Debian's
# util-linux) sets the parent-death signal, which survives the exec. (A preexec_fn could do it
# too, but is unsafe here: the fakes' threads are running when we fork.)
_DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []


class Process:
    """One server process, its output in a log file, stopped with its whole process group."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.popen = subprocess.Popen(  # noqa: S603 (our own argv)
                [*_DIE_WITH_PARENT, *argv],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, which stop() signals whole
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise StackError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def terminate(self) -> None:
        """Ask the whole process group to stop (the server forwards it to its workers)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)  # a new session: pid == group id

    def wait_or_kill(self) -> None:
        """Wait for the group to stop; kill what is left after ``STOP_SECONDS``."""
        try:
            self.popen.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=STOP_SECONDS)
        # Workers the master left behind (it was killed, or they ignored it) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)


class Database:
    """A throwaway database for one run: PostgreSQL or MongoDB beside ``DATABASE_URL``, else
    SQLite."""

    def __init__(self, base_url: str, workdir: Path):
        self.base_url = base_url
        parts = urllib.parse.urlsplit(base_url)
        self.is_postgres = parts.scheme in ("postgres", "postgresql", "pgsql")
        self.is_mongodb = parts.scheme in ("mongodb", "mongodb+srv")
        if self.is_postgres or self.is_mongodb:
            base_name = parts.path.lstrip("/") or "maaledu"
            if not base_name.endswith("e2e"):
                base_name += "_e2e"
            self.name = f"{base_name}_{secrets.token_hex(4)}"
            self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.name}"))
            self._admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
        else:
            self.name = str(workdir / "e2e.sqlite3")
            self.url = f"sqlite:///{self.name}"

    def create(self) -> None:
        if self.is_postgres:  # MongoDB creates a database on its first write
            self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.is_mongodb:
            import pymongo

            with pymongo.MongoClient(self.url, serverSelectionTimeoutMS=10_000) as client:
                client.drop_database(self.name)
        if self.is_postgres:
            # FORCE: a connection the site or worker left open must not keep the database alive.
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self._admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)


# Claim a database atomically: only an unclaimed one is emptied (leftovers of a killed run go)
# and marked as this run's. Release empties it only while it is still ours.
_CLAIM = """
if redis.call('exists', KEYS[1]) == 1 then return 0 end
redis.call('flushdb')
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('flushdb')
return 1
"""


BENCH_REDIS_DBS = (13, 14)


class RedisDatabase:
    """A Redis database number that this run owns for its cache, rate limits and broker.

    Two runs on one machine (two developers, or a developer and CI) must never share a broker:
    one run's worker would execute the other's tasks against the wrong database. So each run
    claims a free number from ``E2E_REDIS_DB`` (if set) or 15 down to 8 but the bench's, never
    the one ``REDIS_URL`` names (the unit tests flush that one between tests).
    """

    OWNER_KEY = "maaledu-e2e:owner"
    CLAIM_SECONDS = 3 * 3600  # outlives any run; a killed run's claim lapses after it

    def __init__(self, base_url: str):
        self._parts = urllib.parse.urlsplit(base_url)
        base_db = self._parts.path.lstrip("/") or "0"
        wanted = os.environ.get("E2E_REDIS_DB")
        # Never the bench's databases (13: make bench; 14: its smoke test in the suite): the
        # bench empties its own at start, and its mix's worker would run our tasks.
        every = [str(db) for db in range(15, 7, -1) if db not in BENCH_REDIS_DBS]
        self.candidates = [wanted] if wanted else every
        self.candidates = [db for db in self.candidates if db != base_db]
        self.token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.url: str | None = None

    def _url(self, db: str) -> str:
        return urllib.parse.urlunsplit(self._parts._replace(path=f"/{db}"))

    def claim(self) -> str:
        import redis

        for db in self.candidates:
            url = self._url(db)
            with redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5) as client:
                if client.eval(_CLAIM, 1, self.OWNER_KEY, self.token, self.CLAIM_SECONDS):
                    self.url = url
                    return url
        raise StackError(
            f"no free Redis database for the browser tests among {self.candidates} (another "
            f"run holds each; a killed run's claim lapses after {self.CLAIM_SECONDS // 3600} h)"
        )

    def release(self) -> None:
        import redis

        if self.url is None:
            return
        with redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5) as client:
            client.eval(_RELEASE, 1, self.OWNER_KEY, self.token)
        self.url = None


class Stack:
    """Start with ``start()`` (or ``with Stack(...) as stack``); ``stop()`` undoes all of it."""

    def __init__(self, *, workdir: Path, database_url: str, redis_url: str):
        self.workdir = workdir
        self.database = Database(database_url, workdir)
        self.redis = RedisDatabase(redis_url)
        self.redis_url = ""  # the claimed database's URL, once start() claimed it
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mailbox = Mailbox(workdir / "mail")
        self.stripe = FakeStripe(f"{self.url}/webhooks/stripe/", STRIPE_WEBHOOK_SECRET)
        self.frappe = FakeFrappe(FRAPPE_API_KEY, FRAPPE_API_SECRET, site="127.0.0.1")
        self.worker_name = f"e2e-{os.getpid()}@{socket.gethostname()}"
        self.processes: list[Process] = []
        self._cleanups: list[Callable[[], None]] = []

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.mailbox.directory.mkdir(parents=True, exist_ok=True)
        self.database.create()
        self._cleanups.append(self.database.drop)
        self.redis_url = self.redis.claim()
        self._cleanups.append(self.redis.release)
        self.stripe.start()
        self._cleanups.append(self.stripe.stop)
        self.frappe.start()
        self._cleanups.append(self.frappe.stop)

        # migrate + seed_demo in one interpreter; it answers with the LMS courses to create.
        frappe_courses = self.django(
            "from django.core.management import call_command\n"
            "call_command('migrate', interactive=False, verbosity=0)\n"
            "call_command('seed_demo', verbosity=0)\n"
            "from courses.models import Course\n"
            "result = sorted(set(Course.objects.exclude(frappe_course='')"
            ".values_list('frappe_course', flat=True)))\n"
        )
        add_demo_courses(self.frappe, frappe_courses)
        # The course outlines, as the periodic task reads them (no beat runs here).
        self.django(
            "from lms_sync.services import sync_course_outlines\nresult = sync_course_outlines()\n"
        )

        web = self._spawn(
            "gunicorn",
            [
                "-m",
                "gunicorn",
                "maaledu.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "60",
                "--graceful-timeout",
                "3",
                "--access-logfile",
                "-",
                "--error-logfile",
                "-",
                "--no-control-socket",
            ],
        )
        worker = self._spawn(
            "celery",
            [
                "-m",
                "celery",
                "-A",
                "maaledu",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "-n",
                self.worker_name,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
        )
        wait_until(
            lambda: web.check_alive() or self._ready(),
            timeout=STARTUP_SECONDS,
            what=f"the site at {self.url}/readyz",
        )
        wait_until(
            lambda: worker.check_alive() or self._worker_answers(),
            timeout=STARTUP_SECONDS,
            what=f"the Celery worker {self.worker_name}",
            interval=0.2,
        )

    def stop(self) -> None:
        """Stop processes first (they hold database connections), then the rest, in reverse."""
        errors = []
        for process in self.processes:  # all at once: each takes a moment to wind down
            process.terminate()
        for process in self.processes:
            try:
                process.wait_or_kill()
            except Exception as error:  # keep stopping the others
                errors.append(error)
        self.processes.clear()
        while self._cleanups:
            try:
                self._cleanups.pop()()
            except Exception as error:
                errors.append(error)
        if errors:
            raise StackError(f"stopping the stack failed: {errors!r}")

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- processes

    @property
    def env(self) -> dict[str, str]:
        """The environment of the site, the worker and ``django()``: explicit about everything
        a developer's ``.env`` might otherwise point elsewhere."""
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "e2e.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_CSRF_TRUSTED_ORIGINS": self.url,
            "SITE_URL": self.url,
            "DATABASE_URL": self.database.url,
            "REDIS_URL": self.redis_url,
            "CACHE_KEY_PREFIX": "e2e",
            "EMAIL_FILE_PATH": str(self.mailbox.directory),
            "MEDIA_ROOT": str(self.workdir / "media"),
            "SENDGRID_API_KEY": "",
            "SENTRY_DSN": "",
            "DEMO_ADMIN_PASSWORD": "maaledu-demo-admin",  # flows.STAFF_PASSWORD
            "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
            "STRIPE_API_BASE": self.stripe.url,
            "FRAPPE_URL": self.frappe.url,
            "FRAPPE_PUBLIC_URL": self.frappe.url,
            "FRAPPE_API_KEY": FRAPPE_API_KEY,
            "FRAPPE_API_SECRET": FRAPPE_API_SECRET,
            "FRAPPE_HOST_HEADER": "",
            "FRAPPE_READ_TIMEOUT": "5",
        }

    def _spawn(self, name: str, args: list[str]) -> Process:
        process = Process(name, [sys.executable, *args], self.env, self.workdir / f"{name}.log")
        self.processes.append(process)
        return process

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _worker_answers(self) -> bool:
        from celery import Celery

        probe = Celery(broker=self.redis_url)
        try:
            return bool(probe.control.ping(destination=[self.worker_name], timeout=0.5))
        finally:
            probe.close()

    def requests_served(self, method: str, path: str) -> int:
        """How many ``method path`` requests the site answered so far (gunicorn's access log),
        whether or not the browser still waited for the answer."""
        web = next(process for process in self.processes if process.name == "gunicorn")
        needle = f'"{method} {path} HTTP/'
        return sum(needle in line for line in web.log_path.read_text(errors="replace").splitlines())

    def logs(self, lines: int = 40) -> str:
        """The last lines of every process's log, for a failing test's report."""
        return "\n".join(
            f"----- {process.name} ({process.log_path}) -----\n{process.log_tail(lines)}"
            for process in self.processes
        )

    # ---------------------------------------------------------------- reading the database

    def django(self, code: str) -> object:
        """Run ``code`` in a Django process on the stack's database; return its ``result``.

        For set-up and for checks a page cannot show (how many rows exist). ``code`` assigns a
        JSON-serialisable value to ``result``.
        """
        script = (
            "import json, django\ndjango.setup()\nresult = None\n"
            f"{code}\n"
            "print('E2E-RESULT ' + json.dumps(result, default=str))\n"
        )
        completed = subprocess.run(  # noqa: S603 (our own argv)
            [sys.executable, "-c", script],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
        for line in reversed(completed.stdout.splitlines()):
            if line.startswith("E2E-RESULT "):
                if completed.returncode == 0:
                    return json.loads(line.removeprefix("E2E-RESULT "))
                break
        raise StackError(
            f"django() failed ({completed.returncode}):\n{completed.stdout[-2000:]}\n"
            f"{completed.stderr[-4000:]}"
        )

    def enrollments(self, *, email: str, course_slug: str) -> list[dict]:
        """Every enrollment row of this e-mail and course, oldest first."""
        return self.django(
            "from enrollments.models import Enrollment\n"
            f"rows = Enrollment.objects.filter(email={email.lower()!r}, "
            f"course__slug={course_slug!r}).order_by('pk')\n"
            "from lms_sync import selectors\n"
            "result = list(rows.values('pk', 'status', 'kind', 'amount_due_cents', "
            "'stripe_session_id', 'affiliate_id'))\n"
            "access = selectors.lms_access([row['pk'] for row in result])\n"
            "result = [{**row, 'lms_status': access[row['pk']].state} for row in result]\n"
        )


def stop_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so the stack's cleanup (dropping the database) runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    """Serve the stack until Ctrl-C, for a manual look (``python -m e2e.stack``)."""
    stop_on_sigterm()
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        sys.exit("REDIS_URL is required (the worker needs a broker)")
    with (
        tempfile.TemporaryDirectory(prefix="maaledu-e2e-") as workdir,
        Stack(workdir=Path(workdir), database_url=database_url, redis_url=redis_url) as stack,
    ):
        print(f"MaalEdu at {stack.url} (admin@maaledu.local / maaledu-demo-admin)")
        print(f"fake Stripe {stack.stripe.url}, fake Frappe {stack.frappe.url}")
        print(f"e-mails in {stack.mailbox.directory}, logs in {workdir}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
