"""Sessions are Django's database sessions read through the cache, created by one insert that the
key's uniqueness guards, without a look-up first; a logout, a password change or a new key at
sign-in kills the old session in the cache as in the database."""

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import sessions

pytestmark = pytest.mark.django_db


def _kind(statement: str) -> str:
    """A logged statement's kind, on SQL (``SELECT …``) and on MongoDB (``db.x.aggregate(…)``)."""
    text = statement.upper()
    if text.startswith("SELECT") or ".AGGREGATE(" in text:
        return "read"
    if text.startswith("INSERT") or ".INSERT_MANY(" in text:
        return "insert"
    return text.split()[0]


def test_a_new_session_is_created_without_looking_its_key_up_first():
    store = sessions.SessionStore()
    store["checkout_visitor_token"] = "t"

    with CaptureQueriesContext(connection) as captured:
        store.save()

    statements = [_kind(query["sql"]) for query in captured.captured_queries]
    assert "read" not in statements
    assert statements.count("insert") == 1
    assert sessions.SessionStore(store.session_key)["checkout_visitor_token"] == "t"


def test_a_key_drawn_twice_is_refused_by_the_insert_and_another_is_drawn(monkeypatch):
    first = sessions.SessionStore()
    first["who"] = "first visitor"
    first.save()
    keys = iter([first.session_key, "b" * 32])
    monkeypatch.setattr(sessions, "get_random_string", lambda length, chars: next(keys))

    second = sessions.SessionStore()
    second["who"] = "second visitor"
    second.save()

    assert second.session_key == "b" * 32
    assert sessions.SessionStore(first.session_key)["who"] == "first visitor"
    assert sessions.SessionStore(second.session_key)["who"] == "second visitor"


def test_signing_in_moves_the_visitor_to_a_new_session_key_and_drops_the_old_one(client):
    """No session fixation: the key a visitor had before signing in (one an attacker could have
    planted) is not the signed-in one, and no longer exists."""
    from django.contrib.sessions.models import Session
    from django.urls import reverse

    from accounts.tests.factories import UserFactory

    UserFactory(email="dana@example.com", password="a-long-unusual-passphrase-42")
    session = client.session
    session["before"] = "kept"
    session.save()
    before = session.session_key
    client.cookies["sessionid"] = before

    response = client.post(
        reverse("account_login"),
        {"login": "dana@example.com", "password": "a-long-unusual-passphrase-42"},
    )

    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    signed_in = sessions.SessionStore(after)
    assert signed_in.get("_auth_user_id") and signed_in["before"] == "kept"


def test_a_planted_session_key_unknown_to_the_site_is_never_adopted():
    planted = "attackerchosenkey000000000000000"
    store = sessions.SessionStore(planted)
    store["checkout_visitor_token"] = "t"

    store.save()

    assert store.session_key != planted
    assert not sessions.SessionStore().exists(planted)


PASSWORD = "a-long-unusual-passphrase-42"
NEW_PASSWORD = "another-long-passphrase-77"


def _signed_in(client, email="dana@example.com"):
    from django.urls import reverse

    from accounts.tests.factories import UserFactory

    user = UserFactory(email=email, password=PASSWORD)
    response = client.post(reverse("account_login"), {"login": email, "password": PASSWORD})
    assert response.status_code == 302
    return user, client.cookies["sessionid"].value


def _is_signed_in(client) -> bool:
    from django.urls import reverse

    return client.get(reverse("enrollments:account")).status_code == 200


def test_a_signed_in_request_reads_its_session_from_the_cache_not_the_database(client):
    _signed_in(client)
    assert _is_signed_in(client)  # the first read puts the session in the cache

    with CaptureQueriesContext(connection) as captured:
        assert _is_signed_in(client)

    assert not any("session" in query["sql"].lower() for query in captured.captured_queries)


def test_logging_out_kills_the_session_in_the_cache_and_the_database(client):
    from django.contrib.sessions.models import Session
    from django.core.cache import cache
    from django.urls import reverse

    _user, key = _signed_in(client)
    assert _is_signed_in(client)

    assert client.post(reverse("account_logout")).status_code == 302

    assert cache.get(sessions.SessionStore.cache_key_prefix + key) == sessions.DELETED
    assert not Session.objects.filter(session_key=key).exists()
    client.cookies["sessionid"] = key  # the old cookie, replayed
    assert not _is_signed_in(client)


def test_a_request_that_read_the_session_just_before_the_logout_cannot_revive_it(client):
    """Its read missed the cache and found the row; the logout ran before it stored what it
    read: the logout's tombstone stays, and the old cookie is anonymous."""
    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    _user, key = _signed_in(client)
    cache.delete(sessions.SessionStore.cache_key_prefix + key)  # the next read misses
    slow_reader = sessions.SessionStore(key)
    read_the_row = slow_reader._get_session_from_db

    def read_then_logout():
        row = read_the_row()
        assert client.post(reverse("account_logout")).status_code == 302
        return row

    slow_reader._get_session_from_db = read_then_logout
    slow_reader.load()

    replay = Client()
    replay.cookies["sessionid"] = key
    assert not _is_signed_in(replay)


def test_a_password_change_kills_the_other_sessions_of_the_account(client):
    from django.test import Client
    from django.urls import reverse

    _user, _key = _signed_in(client)
    other_device = Client()
    other_device.cookies["sessionid"] = client.cookies["sessionid"].value
    assert _is_signed_in(other_device)

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert not _is_signed_in(other_device)
    assert not _is_signed_in(client)


def test_with_the_cache_down_a_logout_fails_and_leaves_no_cached_copy_alive(client, redis_down):
    """Deleting only the row would leave the cached copy for a cache that comes back."""
    from django.contrib.sessions.models import Session

    store = sessions.SessionStore()
    store["who"] = "signed in"
    store.save()

    with pytest.raises(redis.RedisError):  # a 503 page (CacheUnavailableMiddleware)
        store.flush()

    assert Session.objects.filter(session_key=store.session_key).exists()


def test_with_the_cache_down_sessions_are_read_and_saved_in_the_database(redis_down):
    store = sessions.SessionStore()
    store["who"] = "visitor"
    store.save()

    assert sessions.SessionStore(store.session_key)["who"] == "visitor"
