"""Markers for the few tests whose subject exists on one backend only.

The whole suite runs on PostgreSQL and on MongoDB (``make test``). A test skips on MongoDB only
with a reason that names the backend's limitation and the test proving the same guarantee
another way; ``on_mongodb_only`` marks a test of MongoDB's own behaviour (a unique index
rejecting a write)."""

from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection


def skip_on_mongodb(limitation: str, *, proven_by: str):
    """Skip on MongoDB: ``limitation`` says what the backend lacks, ``proven_by`` names the test
    (``path::name``) that proves the guarantee there."""
    return pytest.mark.skipif(
        settings.ON_MONGODB, reason=f"MongoDB: {limitation}; proven by {proven_by}"
    )


def skip_on_standalone_mongodb(limitation: str, *, proven_by: str) -> None:
    """Called first in a test that needs transactions: skips on a standalone MongoDB server
    (``make test-mongo``), runs on SQL and on a replica set (``python -m fakes.with_mongo
    --replica-set …``). Asked of the server, so only inside a test with database access."""
    if settings.ON_MONGODB and not connection.features._supports_transactions:
        pytest.skip(f"standalone MongoDB: {limitation}; proven by {proven_by}")


on_mongodb_only = pytest.mark.skipif(
    not settings.ON_MONGODB, reason="about MongoDB's own behaviour; SQL has its own test"
)


def unused_primary_key():
    """A well-formed primary key of this backend's type that no row has (a URL's "missing"
    id): an integer on SQL databases, an ObjectId on MongoDB."""
    if settings.ON_MONGODB:
        from bson import ObjectId

        return ObjectId("ffffffffffffffffffffffff")
    return 987_654_321


def worker_database_url() -> str:
    """The URL of the test database (not the one DATABASE_URL names), for a process a test
    starts (a Celery worker, a child that gets killed) to read the same rows."""
    db = connection.settings_dict
    if connection.vendor == "mongodb":  # HOST is the server's URI; the path names the database
        return urlunsplit(urlsplit(db["HOST"])._replace(path=f"/{db['NAME']}"))
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"
