"""Test isolation on MongoDB without a flush and its post_migrate per test.

MongoDB (through django-mongodb-backend) has no test transactions, so Django ends each database
test as a TransactionTestCase: a flush of every collection, then ``post_migrate``, which
rebuilds every content type, permission and the Site — about a second per test on the test
server, most of the suite's run. Here the documents ``migrate`` left (``remember_baseline``,
once per session) stay, with their ids; after each test every other document is deleted, and
the Site, which tests may edit, is put back. Content types keep their ids, so Django's content
type cache stays right across tests.
"""

from django.apps import apps
from django.db import connection
from django.test import testcases

_baseline: dict[str, list] = {}
_restored: dict[str, list[dict]] = {}
# Collections whose baseline documents a test may change: restored whole after each test.
RESTORED_COLLECTIONS = {"django_site"}


def _collections() -> list[str]:
    names = {model._meta.db_table for model in apps.get_models(include_auto_created=True)}
    return sorted(names & set(connection.database.list_collection_names()))


def remember_baseline() -> None:
    """Record what ``migrate`` (and its post_migrate) left, before the first test runs."""
    database = connection.database
    for name in _collections():
        documents = list(database[name].find({}))
        _baseline[name] = [document["_id"] for document in documents]
        if name in RESTORED_COLLECTIONS:
            _restored[name] = documents


def reset_to_baseline() -> None:
    database = connection.database
    for name in _collections():
        kept = _baseline.get(name)
        collection = database[name]
        collection.delete_many({"_id": {"$nin": kept}} if kept else {})
        for document in _restored.get(name, ()):
            collection.replace_one({"_id": document["_id"]}, document, upsert=True)


def _fixture_teardown(self) -> None:
    reset_to_baseline()


def install() -> None:
    """End each database test with ``reset_to_baseline`` instead of Django's flush."""
    testcases.TransactionTestCase._fixture_teardown = _fixture_teardown
