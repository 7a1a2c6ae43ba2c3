"""Database sessions (Django's ``db`` engine) whose first save is one INSERT.

Django looks a fresh random session key up in the database before using it, then inserts the
row with ``must_create``, which the primary key refuses if the key exists after all (Django's
``create()`` then draws another key). The look-up is a round trip for nothing: the insert guarded
by the unique index is the check. A new visitor's first checkout saves one query for it.
"""

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.utils.crypto import get_random_string


class SessionStore(DbSessionStore):
    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)
