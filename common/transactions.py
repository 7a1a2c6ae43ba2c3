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

from collections.abc import Callable
from contextlib import ContextDecorator, nullcontext
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, models, transaction
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

T = TypeVar("T")


class TransactionConflict(Exception):
    """A transaction kept losing a write conflict to concurrent ones (``retry_transient``);
    each attempt was rolled back, so nothing it wrote stands."""


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
        return _MongoTransaction(alias)
    return _Autocommit()


class _MongoTransaction(ContextDecorator):
    """django-mongodb-backend's transaction block, which rolls back when its commit fails with a
    ``DatabaseError`` but not with the pymongo error a failed commit raises (a write conflict):
    then its session, which pymongo counts as committed, stayed on the connection, and the
    next block on that connection joined it and ran without a transaction. Here that session
    is ended, with the callbacks that were waiting for its commit."""

    def __init__(self, alias: str) -> None:
        from django_mongodb_backend import transaction as mongo_transaction

        self.alias = alias
        self.block = mongo_transaction.atomic(using=alias)

    def __enter__(self):
        self.block.__enter__()
        return self

    def __exit__(self, *exc_info):
        from pymongo.errors import PyMongoError

        try:
            return self.block.__exit__(*exc_info)
        except PyMongoError:
            connection = connections[self.alias]
            if connection.session is not None and not connection.in_atomic_block_mongo:
                connection.session.end_session()
                connection.session = None
                connection.run_on_commit = []
            raise


def guarded_insert(using=None):
    """Around one insert that a unique index may refuse (the caller catches ``IntegrityError``).

    Inside a transaction: ``atomic()``, whose savepoint keeps the transaction usable after a
    refusal. In autocommit: nothing, as the statement is its own transaction and a refusal
    leaves the connection usable; that saves the BEGIN and COMMIT round trips a lone insert does
    not need (a referral click on every ``?ref=`` visit)."""
    return atomic(using=using) if in_transaction(using) else nullcontext()


def insert_unless_present(obj: models.Model, using=None) -> bool:
    """Insert the new ``obj`` unless a unique index already holds its key; True if inserted.

    Where the database skips a conflicting row itself (PostgreSQL's ``ON CONFLICT DO NOTHING``,
    SQLite's ``INSERT OR IGNORE``, which skips a row any constraint refuses: Django's
    ``ignore_conflicts``), one statement whose row count says which, with no savepoint inside a
    transaction: nothing fails, so nothing breaks it. Elsewhere (MongoDB) a ``guarded_insert``
    of ``obj.save()``. The caller must not count on ``obj`` getting its primary key back, nor on
    model signals: on SQL neither happens (as with ``bulk_create``)."""
    alias = using or DEFAULT_DB_ALIAS
    connection = connections[alias]
    meta = obj._meta
    if not connection.features.supports_ignore_conflicts:
        try:
            with guarded_insert(alias):
                obj.save(force_insert=True, using=alias)
        except IntegrityError:
            return False
        return True
    fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
    query = InsertQuery(type(obj), on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [obj])
    with connection.cursor() as cursor:
        [(sql, params)] = query.get_compiler(using=alias).as_sql()
        cursor.execute(sql, params)
        return cursor.rowcount == 1


def in_transaction(using=None) -> bool:
    """Whether a transaction is open: Django's ``atomic`` or django-mongodb-backend's (which
    keeps its own flag). Outside one, ``transaction.on_commit`` runs its function at once."""
    connection = connections[using or DEFAULT_DB_ALIAS]
    return connection.in_atomic_block or getattr(connection, "in_atomic_block_mongo", False)


def retry_transient(fn: Callable[[], T], attempts: int = 3, using=None) -> T:
    """``fn()``, run again (up to ``attempts`` times in all) when a MongoDB transaction inside it
    fails with the TransientTransactionError label, as the MongoDB driver guidance says: the
    server rolled the whole transaction back, so running it again from its reads is safe.
    ``fn`` must open its own ``atomic()`` block and do nothing outside it that a rerun would
    repeat harmfully. Raises ``TransactionConflict`` when every attempt lost.

    Never retried: an error without that label (PostgreSQL's, a standalone server's, and
    UnknownTransactionCommitResult, whose commit may have been applied), and a call inside an
    open MongoDB transaction (only its outermost block can run it again)."""
    alias = using or DEFAULT_DB_ALIAS
    if getattr(connections[alias], "in_atomic_block_mongo", False):
        return fn()
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as error:
            if not _is_transient(error):
                raise
            if attempt >= attempts:
                raise TransactionConflict(str(error)) from error
            attempt += 1


def _is_transient(error: BaseException | None) -> bool:
    """The label, on the pymongo error or on the one Django's ``DatabaseError`` wraps."""
    while error is not None:
        has_label = getattr(error, "has_error_label", None)
        if has_label is not None and has_label("TransientTransactionError"):
            return True
        error = error.__cause__
    return False
