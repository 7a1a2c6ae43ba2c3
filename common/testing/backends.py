"""Markers for the few tests whose subject exists on one backend only.

The whole suite runs on PostgreSQL and on MongoDB (``make test``). A test skips on MongoDB only
with a reason that names the backend's limitation and the test proving the same guarantee
another way; ``on_mongodb_only`` marks a test of MongoDB's own behaviour (a unique index
rejecting a write)."""

import pytest
from django.conf import settings


def skip_on_mongodb(limitation: str, *, proven_by: str):
    """Skip on MongoDB: ``limitation`` says what the backend lacks, ``proven_by`` names the test
    (``path::name``) that proves the guarantee there."""
    return pytest.mark.skipif(
        settings.ON_MONGODB, reason=f"MongoDB: {limitation}; proven by {proven_by}"
    )


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
