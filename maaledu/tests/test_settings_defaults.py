"""Safe by default: a process started without ``DJANGO_SETTINGS_MODULE`` runs production
settings when it serves the site (WSGI, ASGI) or runs tasks (Celery), and development settings
only from ``manage.py``; ``base`` alone is neutral (DEBUG off, no secret key)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "production-like-secret-key-with-enough-entropy-0123456789-abcdef",
    "DJANGO_ALLOWED_HOSTS": "maaledu.example.com",
}
PROBE = (
    "import json, os; from django.conf import settings; "
    "print(json.dumps({'module': os.environ['DJANGO_SETTINGS_MODULE'], 'debug': settings.DEBUG}))"
)


def _clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any Django setting (pytest-django sets the module)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SERVE_MEDIA"))}
    env.update(extra)
    return env


def _run(args: list[str], **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args,
        cwd=BASE_DIR,
        env=_clean_env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _probe(args: list[str], **extra: str) -> dict:
    result = _run(args, **extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "entry_point",
    [
        "import maaledu.wsgi",
        "import maaledu.asgi",
        "import maaledu.celery; import django; django.setup()",
    ],
    ids=["wsgi", "asgi", "celery"],
)
def test_servers_and_workers_default_to_production_settings(entry_point):
    values = _probe([sys.executable, "-c", f"{entry_point}; {PROBE}"], **PRODUCTION_ENV)

    assert values == {"module": "maaledu.settings.production", "debug": False}


@pytest.mark.parametrize("entry_point", ["maaledu.wsgi", "maaledu.asgi", "maaledu.celery"])
def test_a_deploy_that_forgets_the_settings_and_the_secret_key_refuses_to_start(entry_point):
    code = f"import {entry_point}; import django; django.setup()"
    result = _run([sys.executable, "-c", code], DJANGO_ALLOWED_HOSTS="maaledu.example.com")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_manage_py_defaults_to_development_settings():
    values = _probe([sys.executable, "manage.py", "shell", "-c", PROBE])

    assert values == {"module": "maaledu.settings.development", "debug": True}


def test_base_settings_alone_have_debug_off_and_no_secret_key():
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "from django.core.exceptions import ImproperlyConfigured\n"
        "try:\n    s.SECRET_KEY; key = 'set'\n"
        "except ImproperlyConfigured as error:\n    key = str(error)\n"
        "print(json.dumps({'debug': s.DEBUG, 'serve_media': s.SERVE_MEDIA, 'key': key, "
        "'demo_password': s.DEMO_ADMIN_PASSWORD}))"
    )
    values = _probe([sys.executable, "-c", code], DJANGO_SETTINGS_MODULE="maaledu.settings.base")

    assert values == {
        "debug": False,
        "serve_media": False,
        "key": "The SECRET_KEY setting must not be empty.",
        "demo_password": "",
    }
