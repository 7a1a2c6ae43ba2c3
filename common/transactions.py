"""``atomic()`` for every backend: use it instead of ``django.db.transaction.atomic``.

- SQL databases: Django's ``atomic`` (nested blocks are savepoints).
- MongoDB replica set or sharded cluster (Atlas always is one): django-mongodb-backend's own
  transaction, opened by the outermost block; inner blocks join it (MongoDB has no savepoints).
- MongoDB standalone server: no transaction at all; each write commits alone, which our rule
  already makes safe (every step is a conditional update or a guarded insert that re-runs).

Django's own ``atomic`` is a silent no-op on MongoDB, so code using it would lose atomicity on a
replica set without saying so. ``transaction.on_commit`` works with both: inside a MongoDB
transaction it waits for the commit; without one it runs at once. docs/mongodb.md says which
guarantee rests on what, per backend.
"""

from contextlib import ContextDecorator

from django.db import DEFAULT_DB_ALIAS, connections, transaction


class _Autocommit(ContextDecorator):
    """A standalone MongoDB server: the block runs in autocommit, write by write."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def in_transactions(using=None) -> bool:
    """Whether ``atomic()`` opens a real transaction on this database (False on a standalone
    MongoDB server, where each write commits alone)."""
    connection = connections[using or DEFAULT_DB_ALIAS]
    if connection.vendor != "mongodb":
        return True
    return bool(connection.features._supports_transactions)


def atomic(using=None):
    """A transaction block, or a decorator (``@atomic`` or ``@atomic()``)."""
    if callable(using):
        return atomic()(using)
    alias = using or DEFAULT_DB_ALIAS
    connection = connections[alias]
    if connection.vendor != "mongodb":
        return transaction.atomic(using=alias)
    if connection.features._supports_transactions:
        from django_mongodb_backend import transaction as mongo_transaction

        return mongo_transaction.atomic(using=alias)
    return _Autocommit()
