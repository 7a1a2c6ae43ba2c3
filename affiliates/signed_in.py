"""The signed-in user's row, with their affiliate row (or the fact they have none), kept in this
web process's memory.

Every signed-in request loads them (``auth_backends``): one SQL query, a LEFT JOIN, that was
about 40 % of a warm dashboard's instructions. Kept here under the user's version
(``accounts.user_versions``), a request costs one small cache GET instead. The version is read
first, then the database, and the rows are kept under the version read: every write to either
row bumps it now and again after its commit, so rows read while that transaction was open leave
with the old version. Django's ``get_user`` still checks the session's hash against the
password kept here, and the backend still refuses an inactive user: a password change or a
deactivation (each a save, so a bump) ends other sessions on their next request.

Only the rows' column values are kept; each request gets new model instances built from them,
so no instance is shared between requests or threads, and nothing a request attaches to its
user (the backend's permission caches, ``backend``) is kept. Permissions are read from the
database as before. Every column is an immutable value (str, int, bool, datetime, ObjectId),
so instances built from one tuple share nothing mutable (a mutable column, such as a
JSONField, would need copying in ``_instances``).

Bounded: at most ``MAX_USERS`` users (the longest kept go first), each trusted for at most
``MAX_AGE_SECONDS``: a write made outside Django (SQL), or whose bump was lost because the
writing process alone could not reach the cache, is seen within that (docs/runbook.md,
"Signed-in users"). With the cache down every request reads the database and the process
forgets every row it kept: a bump lost in the outage leaves the old version in place once the
cache is back, so nothing kept before it may be trusted again. Rows are kept only with a cache
every process shares (Redis): with each process's own (local memory, no ``REDIS_URL``), a write
in one would retire nothing in the others. Redis holds only the version, so a deploy that
changes either table needs no new key: the rows live in the process.
"""

import threading
import time
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from accounts import user_versions

from .models import Affiliate

MAX_USERS = 2_000
MAX_AGE_SECONDS = 60


class _Rows(NamedTuple):
    version: str
    kept_at: float
    db: str
    user: tuple
    affiliate: tuple | None  # None: the user is no affiliate


_lock = threading.Lock()
_kept: dict[object, _Rows] = {}  # user's primary key -> their rows, the longest kept first


def user_with_affiliate(user_id):
    """The user with primary key ``user_id``, their ``affiliate`` loaded (the row, or none), or
    None when there is no such user."""
    if not isinstance(caches["default"], RedisCache):
        return _from_database(user_id)
    version = user_versions.current(user_id)
    if version is None:
        _forget_all()
        return _from_database(user_id)
    rows = _kept.get(user_id)
    fresh = rows is not None and time.monotonic() - rows.kept_at < MAX_AGE_SECONDS
    if fresh and rows.version == version:
        return _instances(rows)
    user = _from_database(user_id)
    if user is not None:
        _keep(user_id, version, user)
    return user


def _from_database(user_id):
    users = get_user_model()._default_manager
    try:
        return users.select_related("affiliate").get(pk=user_id)
    except users.model.DoesNotExist:
        return None


def _affiliate_relation():
    """The user's reverse one-to-one ``affiliate``, which caches the related row (or None) on
    the instance as ``select_related`` leaves it."""
    return get_user_model()._meta.get_field("affiliate")


def _values(instance) -> tuple:
    return tuple(getattr(instance, field.attname) for field in instance._meta.concrete_fields)


def _keep(user_id, version: str, user) -> None:
    affiliate = _affiliate_relation().get_cached_value(user, default=None)
    rows = _Rows(
        version=version,
        kept_at=time.monotonic(),
        db=user._state.db,
        user=_values(user),
        affiliate=None if affiliate is None else _values(affiliate),
    )
    with _lock:
        _kept.pop(user_id, None)
        _kept[user_id] = rows
        while len(_kept) > MAX_USERS:
            del _kept[next(iter(_kept))]


def _forget_all() -> None:
    if _kept:
        with _lock:
            _kept.clear()


def _instances(rows: _Rows):
    """New instances of the kept rows, linked both ways as ``select_related`` links them."""
    user = get_user_model().from_db(rows.db, None, rows.user)
    relation = _affiliate_relation()
    if rows.affiliate is None:
        relation.set_cached_value(user, None)
    else:
        affiliate = Affiliate.from_db(rows.db, None, rows.affiliate)
        relation.set_cached_value(user, affiliate)
        relation.field.set_cached_value(affiliate, user)
    return user
