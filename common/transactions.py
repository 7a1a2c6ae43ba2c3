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

from contextlib import ContextDecorator, nullcontext

from django.db import DEFAULT_DB_ALIAS, connections, transaction


class _Autocommit(ContextDecorator):
    """A standalone MongoDB server: the block runs in autocommit, write by write."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


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


def guarded_insert(using=None):
    """Around one insert that a unique index may refuse (the caller catches ``IntegrityError``).

    Inside a transaction: ``atomic()``, whose savepoint keeps the transaction usable after a
    refusal. In autocommit: nothing, as the statement is its own transaction and a refusal
    leaves the connection usable; that saves the BEGIN and COMMIT round trips a lone insert does
    not need (a referral click on every ``?ref=`` visit)."""
    return atomic(using=using) if in_transaction(using) else nullcontext()


def in_transaction(using=None) -> bool:
    """Whether a transaction is open: Django's ``atomic`` or django-mongodb-backend's (which
    keeps its own flag). Outside one, ``transaction.on_commit`` runs its function at once."""
    connection = connections[using or DEFAULT_DB_ALIAS]
    return connection.in_atomic_block or getattr(connection, "in_atomic_block_mongo", False)
