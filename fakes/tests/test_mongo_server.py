"""The MongoDB wire-protocol server the suite starts (fakes/mongo_server.py)."""

import pymongo
import pytest

from fakes import mongo_server


def test_the_session_server_speaks_the_wire_protocol_and_keeps_documents(mongodb_server):
    client = pymongo.MongoClient(mongodb_server.uri, serverSelectionTimeoutMS=5000)
    try:
        assert client.admin.command("ping")["ok"] == 1
        collection = client["wire_check"]["things"]
        collection.insert_one({"_id": 1, "price": 49.9})
        assert collection.find_one({"_id": 1}) == {"_id": 1, "price": 49.9}
    finally:
        client.drop_database("wire_check")
        client.close()


def test_without_mongod_or_the_mongoeco_venv_it_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(mongo_server.shutil, "which", lambda name: None)
    monkeypatch.setattr(mongo_server, "MONGO_VENV", tmp_path / "missing")
    with pytest.raises(mongo_server.MongoServerUnavailable, match="make mongo-deps"):
        mongo_server.start_mongo_server()


def _fake_python(tmp_path, script: str):
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\n" + script + "\n")
    python.chmod(0o755)
    return python


def test_a_server_that_fails_to_start_says_why(tmp_path):
    python = _fake_python(tmp_path, 'echo "ModuleNotFoundError: mongoeco" >&2; exit 1')
    with pytest.raises(mongo_server.MongoServerUnavailable, match="ModuleNotFoundError: mongoeco"):
        mongo_server._start_mongoeco(python, None)


def test_a_server_that_never_says_it_listens_is_given_up_not_waited_for(monkeypatch, tmp_path):
    monkeypatch.setattr(mongo_server, "START_TIMEOUT_SECONDS", 0.2)
    python = _fake_python(tmp_path, "exec sleep 600")
    with pytest.raises(mongo_server.MongoServerUnavailable, match="no URI printed"):
        mongo_server._start_mongoeco(python, None)


def test_the_server_answers_the_lowercase_buildinfo_the_django_backend_sends(mongodb_server):
    client = pymongo.MongoClient(mongodb_server.uri, serverSelectionTimeoutMS=5000)
    try:
        assert client.server_info()["versionArray"]
    finally:
        client.close()


def test_one_key_pattern_takes_a_plain_and_a_unique_partial_index_as_mongodb_5_does(
    mongodb_server,
):
    client = pymongo.MongoClient(mongodb_server.uri, serverSelectionTimeoutMS=5000)
    addresses = client["index_check"]["addresses"]
    try:
        addresses.create_index("email", name="plain")
        addresses.create_index(
            "email", name="verified", unique=True, partialFilterExpression={"verified": True}
        )
        # Unverified duplicates are fine (the unique index covers verified ones only).
        addresses.insert_many([{"email": "a@x.test", "verified": False} for _ in range(2)])
        addresses.insert_one({"email": "a@x.test", "verified": True})
        with pytest.raises(pymongo.errors.DuplicateKeyError):
            addresses.insert_one({"email": "a@x.test", "verified": True})
    finally:
        client.drop_database("index_check")
        client.close()


def test_the_server_evaluates_not_and_nested_inclusions_as_mongodb_does(mongodb_server):
    client = pymongo.MongoClient(mongodb_server.uri, serverSelectionTimeoutMS=5000)
    things = client["expression_check"]["things"]
    try:
        things.insert_one({"_id": 1, "a": 1, "course": {"title": "Scrum", "price": 4900}})
        negated = things.aggregate([{"$project": {"x": {"$not": [{"$eq": ["$a", 1]}]}}}])
        assert list(negated) == [{"_id": 1, "x": False}]
        nested = things.aggregate([{"$project": {"course": {"title": 1}}}])
        assert list(nested) == [{"_id": 1, "course": {"title": "Scrum"}}]
        # $addFields sets fields inside an embedded document and keeps its others.
        added = things.aggregate([{"$addFields": {"course": {"label": "$course.title"}}}])
        (row,) = added
        assert row["course"] == {"title": "Scrum", "price": 4900, "label": "Scrum"}
    finally:
        client.drop_database("expression_check")
        client.close()


def test_the_server_truncates_to_weeks_starting_on_an_abbreviated_day_as_mongodb_does(
    mongodb_server,
):
    # The backend writes {"startOfWeek": "mon"} for TruncWeek; MongoDB takes "mon" or "monday".
    import datetime

    client = pymongo.MongoClient(mongodb_server.uri, serverSelectionTimeoutMS=5000)
    days = client["week_check"]["days"]
    try:
        days.insert_one({"_id": 1, "day": datetime.datetime(2026, 12, 10)})  # a Thursday
        for start in ("mon", "Mon", "monday"):
            spec = {"$dateTrunc": {"date": "$day", "unit": "week", "startOfWeek": start}}
            (row,) = days.aggregate([{"$project": {"week": spec}}])
            assert row["week"] == datetime.datetime(2026, 12, 7)
    finally:
        client.drop_database("week_check")
        client.close()


def test_a_replica_set_fails_a_conflicting_commit_as_mongodb_does_and_aborts_it():
    # The later of two overlapping transactions: WriteConflict, labelled transient, none of it
    # written; and the pooled session it ran on starts clean transactions afterwards.
    try:
        server = mongo_server.start_mongo_server(replica_set=True)
    except mongo_server.MongoServerUnavailable as error:
        pytest.skip(str(error))
    client = pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=5000)
    things = client["conflict_check"]["things"]
    first, second = client.start_session(), client.start_session()
    try:
        things.insert_one({"_id": 0})
        first.start_transaction()
        second.start_transaction()
        things.insert_one({"_id": 1}, session=first)
        things.insert_one({"_id": 2}, session=second)
        first.commit_transaction()
        with pytest.raises(pymongo.errors.OperationFailure) as conflict:
            second.commit_transaction()
        second.end_session()  # back to the driver's pool, as django-mongodb-backend does
        with client.start_session() as again:
            again.start_transaction()
            things.insert_one({"_id": 3}, session=again)
            again.commit_transaction()

        assert conflict.value.code == 112
        assert conflict.value.has_error_label("TransientTransactionError")
        assert sorted(row["_id"] for row in things.find()) == [0, 1, 3]
    finally:
        first.end_session()
        client.close()
        server.stop()
