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
