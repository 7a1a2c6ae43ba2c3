"""``python -m fakes.with_mongo``: a command run against a fresh MongoDB server."""

import subprocess
import sys

import pytest

from fakes import mongo_server, with_mongo


def test_the_command_runs_with_database_url_on_a_live_server(tmp_path):
    if mongo_server.mongoeco_python() is None and mongo_server.shutil.which("mongod") is None:
        pytest.skip("no MongoDB server here (make mongo-deps)")
    probe = (
        "import os, pymongo; url = os.environ['DATABASE_URL'];"
        "assert '/maaledu' in url, url;"
        "print(pymongo.MongoClient(url).admin.command('ping')['ok'])"
    )
    result = subprocess.run(
        [sys.executable, "-m", "fakes.with_mongo", sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1.0"


def test_without_a_server_the_optional_run_is_skipped_outside_ci(monkeypatch, capsys):
    def unavailable(port=None, replica_set=False):
        raise mongo_server.MongoServerUnavailable("no MongoDB server")

    monkeypatch.setattr(with_mongo, "start_mongo_server", unavailable)
    monkeypatch.delenv("CI", raising=False)
    assert with_mongo.main(["--optional", "true"]) == 0
    assert "skipped" in capsys.readouterr().err
    monkeypatch.setenv("CI", "true")
    assert with_mongo.main(["--optional", "true"]) == 1
    assert with_mongo.main(["true"]) == 1


def test_the_database_url_names_the_maaledu_database_and_keeps_the_options():
    url = with_mongo.database_url("mongodb://127.0.0.1:4242/?directConnection=true")
    assert url == "mongodb://127.0.0.1:4242/maaledu?directConnection=true"
