import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.utils import load_backend
from django.http import HttpResponse

from accounts.models import User
from common.logging import KeyValueFormatter, RequestIdFilter
from courses.models import Course
from maaledu.middleware import RequestIdMiddleware

BASE_DIR = Path(__file__).resolve().parents[2]


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any query here would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_ok_when_database_and_redis_answer(client, settings):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["failed"] == []


@pytest.fixture
def database_down(db):
    """The default connection points at a database server nobody runs (a real connection of
    the same backend, not a mock), until the end of the test."""
    real = connections["default"]
    dead = dict(real.settings_dict)
    if real.vendor == "mongodb":
        dead["HOST"] = "mongodb://127.0.0.1:1/maaledu?serverSelectionTimeoutMS=300"
    elif real.vendor == "sqlite":
        dead["NAME"] = "/nonexistent/directory/db.sqlite3"
    else:
        dead["HOST"], dead["PORT"] = "127.0.0.1", 1  # nothing listens on port 1
    # Its own alias: MongoDB's backend keeps one client per alias, and "default"'s is alive.
    down = load_backend(dead["ENGINE"]).DatabaseWrapper(dead, "database_down")
    connections["default"] = down
    try:
        yield
    finally:
        down.close()
        connections["default"] = real


def test_readyz_names_the_database_when_it_is_down(client, settings, database_down):
    settings.REDIS_URL = ""

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["database"]}


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["redis"]}


def test_request_id_is_echoed_when_well_formed_and_generated_otherwise(client):
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    hostile = client.get("/healthz", headers={"X-Request-ID": "bad id\nInjected: 1"})

    assert echoed["X-Request-ID"] == "abc-123"
    assert hostile["X-Request-ID"] != "bad id\nInjected: 1"
    assert len(hostile["X-Request-ID"]) == 32


def test_security_headers_are_set_on_pages(client):
    response = client.get("/healthz")

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Permissions-Policy"] == "geolocation=(), microphone=(), camera=()"


def test_log_lines_written_during_a_request_carry_its_request_id(rf):
    lines = []
    handler = logging.Handler()
    handler.addFilter(RequestIdFilter())
    handler.emit = lambda record: lines.append(KeyValueFormatter().format(record))
    logger = logging.getLogger("maaledu.tests.request_id")
    logger.addHandler(handler)

    def view(request):
        logger.warning("event=test.inside_request")
        return HttpResponse("ok")

    try:
        RequestIdMiddleware(view)(rf.get("/", headers={"X-Request-ID": "req-42"}))
        logger.warning("event=test.outside_request")
    finally:
        logger.removeHandler(handler)

    assert "request_id=req-42 event=test.inside_request" in lines[0]
    assert "request_id=- event=test.outside_request" in lines[1]


def test_production_settings_pass_check_deploy():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "maaledu.settings.production",
        "DJANGO_SECRET_KEY": "production-like-secret-key-with-enough-entropy-0123456789-abcdef",
        "DJANGO_ALLOWED_HOSTS": "maaledu.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://maaledu.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="maaledu.settings.production", DJANGO_ALLOWED_HOSTS="x")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_the_staff_login(capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out

    assert Course.objects.filter(is_published=True).count() == 6
    assert User.objects.filter(is_staff=True).count() == 1
    assert "admin@maaledu.local" in first and "admin@maaledu.local" in second
    assert "0 created, 6 updated" in second
    assert User.objects.get(email="admin@maaledu.local").check_password("maaledu-demo-admin")
