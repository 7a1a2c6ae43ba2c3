"""Sessions are Django's database sessions, created by one insert that the key's uniqueness
guards, without a look-up first."""

import pytest
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
