"""Both sets of migrations match the models: ``migrations`` (SQL) and ``mongo_migrations``."""

import os
import subprocess
import sys

from django.conf import settings


def _makemigrations_check(database_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "maaledu.settings.test",
            "DATABASE_URL": database_url,
        },
    )


def test_the_sql_migrations_match_the_models(tmp_path):
    result = _makemigrations_check(f"sqlite:///{tmp_path / 'check.sqlite3'}")
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "No changes detected" in result.stdout


def test_the_mongodb_migrations_match_the_models(mongodb_server):
    result = _makemigrations_check(mongodb_server.uri.replace("/?", "/migrations_check?"))
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "No changes detected" in result.stdout
