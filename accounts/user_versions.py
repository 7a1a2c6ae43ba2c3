"""A version per user, held in the cache, that every write to the user's row replaces.

What a web process keeps in memory about a signed-in user (``affiliates.signed_in``: the row
loaded on every request) is kept under this version: read the version first, then the
database, and keep the answer under the version read. A write calls ``changed`` (bump now and
again after its commit), so no process serves the row from before it.

Every ``save()`` and ``delete()`` of a user bumps through the receivers in
``accounts.receivers``; a queryset ``.update()`` fires no signal, so each one on the user
table calls ``changed`` itself (``accounts.services``). Other apps that keep rows with the user
(the affiliate row) call ``changed`` on their own writes: this module imports no other app.

Permissions are not covered: group and permission rows are read per request as before
(Django's backend caches them on the instance, and every request gets its own instance).

With the cache down ``current`` is None (read the database) and a bump is lost: the keeper
then forgets all it kept, since the old version is still in place once the cache is back.
"""

from common import versioned_cache

# A user's version outlives by far what is kept under it (minutes): one key per user who signed
# in lately, not per user ever written. An expired key is created anew, which only costs a
# database read.
VERSION_SECONDS = 24 * 60 * 60


def key(user_id) -> str:
    return f"accounts:user-version:{user_id}"


def current(user_id) -> str | None:
    """The user's version (one round trip; created when missing), or None when the cache is
    down."""
    return versioned_cache.version(key(user_id), timeout=VERSION_SECONDS)


def changed(*user_ids) -> None:
    """These users' rows (or what is kept with them) were written: call right after the
    write."""
    keys = [key(pk) for pk in user_ids if pk is not None]
    versioned_cache.bump_versions_after_commit_too(*keys, timeout=VERSION_SECONDS)
