"""``make demo``: MaalEdu with a fake Stripe and a fake Frappe LMS, on one machine, no accounts.

- the site (``runserver``, ``maaledu.settings.demo``) on its own SQLite file (``demo.sqlite3``),
  with a local-memory cache and Celery tasks run in-process: no Redis;
- the fake Stripe (``fakes.stripe_server``): its hosted page "pays" and sends the signed
  webhook, and the admin's refunds go to it;
- the fake Frappe LMS (``fakes.frappe_server``): every demo course, with chapters, lessons and
  an instructor, so course pages show an outline and purchases end "Ready" with an LMS link.

The fakes run on threads of this process, the site in a child process; Ctrl-C stops all of it.
The pieces are the browser tests' (``e2e.stack``). Refuses to start with production settings.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from e2e.stack import REPO, Process, StackError, free_port, wait_until
from fakes.demo_lms import add_demo_courses
from fakes.frappe_server import FakeFrappe
from fakes.stripe_server import FakeStripe

DEMO_SETTINGS = "maaledu.settings.demo"
STRIPE_SECRET_KEY = "sk_test_demo"  # noqa: S105 (the fake's only key)
STRIPE_WEBHOOK_SECRET = "whsec_demo"  # noqa: S105
FRAPPE_API_KEY = "demo-key"
FRAPPE_API_SECRET = "demo-secret"  # noqa: S105
STARTUP_SECONDS = 120
MARKER = ".maaledu-demo"
# Settings a developer's shell may carry; anything else (production, a deployment's own module)
# makes the demo refuse to start.
DEVELOPMENT_SETTINGS = frozenset(
    {
        "",
        DEMO_SETTINGS,
        "maaledu.settings.development",
        "maaledu.settings.base",
        "maaledu.settings.test",
        "e2e.settings",
    }
)
STAFF_LOGIN = "admin@maaledu.local / maaledu-demo-admin"


class DemoRefused(SystemExit):
    """The demo must not start in this environment (the message says why)."""


def refuse_production(environ: dict[str, str] | None = None) -> None:
    """Refuse when the environment (or ``.env``) selects other settings than the demo's, such
    as production: the demo's fake payments must never stand in for a real shop's."""
    values = dict(os.environ if environ is None else environ)
    env_file = REPO / ".env"
    if "DJANGO_SETTINGS_MODULE" not in values and env_file.exists():
        for line in env_file.read_text(errors="replace").splitlines():
            key, sep, value = line.strip().removeprefix("export ").partition("=")
            if sep and key.strip() == "DJANGO_SETTINGS_MODULE":
                values["DJANGO_SETTINGS_MODULE"] = value.strip().strip("'\"")
    chosen = values.get("DJANGO_SETTINGS_MODULE", "")
    if chosen not in DEVELOPMENT_SETTINGS:
        raise DemoRefused(
            f"make demo refuses to start: DJANGO_SETTINGS_MODULE is {chosen!r}. The demo uses "
            "fake payments and its own SQLite file; unset DJANGO_SETTINGS_MODULE (the demo "
            f"picks {DEMO_SETTINGS} itself)."
        )


class Demo:
    """Start with ``start()`` (or ``with Demo(...) as demo``); ``stop()`` undoes it."""

    def __init__(self, *, workdir: Path, host: str = "127.0.0.1", port: int = 8000):
        self.workdir = workdir
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self.database = workdir / "demo.sqlite3"
        self.media_root = workdir / "media"
        self.stripe = FakeStripe(f"{self.url}/webhooks/stripe/", STRIPE_WEBHOOK_SECRET)
        self.frappe = FakeFrappe(FRAPPE_API_KEY, FRAPPE_API_SECRET, site="127.0.0.1")
        self.site: Process | None = None
        self._started: list = []

    @property
    def env_outside(self) -> dict[str, str]:
        """The environment the demo was started in (what ``refuse_production`` judges)."""
        return dict(os.environ)

    @property
    def env(self) -> dict[str, str]:
        """The site's environment: explicit about everything a ``.env`` might point elsewhere."""
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": DEMO_SETTINGS,
            "DJANGO_DEBUG": "true",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": self.url,
            "DATABASE_URL": f"sqlite:///{self.database}",
            "REDIS_URL": "",
            "MEDIA_ROOT": str(self.media_root),
            "SENDGRID_API_KEY": "",
            "SENTRY_DSN": "",
            "DEMO_ADMIN_PASSWORD": "maaledu-demo-admin",
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

    def start(self) -> Demo:
        refuse_production(self.env_outside)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._start_afresh()
        self.stripe.start()
        self._started.append(self.stripe)
        self.frappe.start()
        self._started.append(self.frappe)
        add_demo_courses(self.frappe)
        for command in (["migrate", "--noinput", "-v", "0"], ["seed_demo"], ["demo_data"]):
            self.manage(*command)
        self.site = Process(
            "site",
            [sys.executable, "manage.py", "runserver", f"{self.host}:{self.port}", "--noreload"],
            self.env,
            self.workdir / "site.log",
        )
        wait_until(
            lambda: self.site.check_alive() or self._ready(),
            timeout=STARTUP_SECONDS,
            what=f"the demo site at {self.url}/readyz",
        )

    def _start_afresh(self) -> None:
        """A new database and media on every start: the fake LMS and Stripe start empty too,
        so nothing may point at what they held last time. Only in a directory we made."""
        marker = self.workdir / MARKER
        if self.workdir.exists() and not marker.exists() and any(self.workdir.iterdir()):
            raise StackError(f"{self.workdir} is not empty and is not a MaalEdu demo directory")
        self.workdir.mkdir(parents=True, exist_ok=True)
        marker.write_text("Created by `make demo`; deleted and remade on every start.\n")
        self.database.unlink(missing_ok=True)
        shutil.rmtree(self.media_root, ignore_errors=True)

    def manage(self, *args: str) -> str:
        """Run a management command with the demo's settings; its output, or ``StackError``."""
        done = subprocess.run(  # noqa: S603 (our own argv)
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STARTUP_SECONDS,
            check=False,
        )
        if done.returncode:
            raise StackError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        if self.site is not None:
            self.site.terminate()
            self.site.wait_or_kill()
            self.site = None
        while self._started:
            self._started.pop().stop()

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO / ".demo",
        help="the demo's SQLite file, uploaded media and site log",
    )
    args = parser.parse_args(argv)
    try:
        refuse_production()
    except DemoRefused as refusal:
        print(refusal.code, file=sys.stderr)
        sys.exit(2)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    port = args.port or free_port()  # --port 0: any free port
    with Demo(workdir=args.workdir, host=args.host, port=port) as demo:
        print(
            f"\nMaalEdu demo on {demo.url}/  (Ctrl-C to stop)\n"
            f"  staff (admin, refunds):   {STAFF_LOGIN}  ->  {demo.url}/admin/\n"
            f"  learner (My orders):      learner@maaledu.local / maaledu-demo-learner\n"
            f"  affiliate (commissions):  partner@maaledu.local / maaledu-demo-partner\n"
            f"  buy through the affiliate: {demo.url}/?ref=partner\n"
            f"  fake Stripe {demo.stripe.url} (any e-mail, press Pay), fake LMS {demo.frappe.url}\n"
            f"  data in {args.workdir} (made afresh at every start), site log in "
            f"{args.workdir / 'site.log'}\n",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            demo.site.popen.wait()
            print(f"The site stopped:\n{demo.site.log_tail()}", file=sys.stderr)


if __name__ == "__main__":
    main()
