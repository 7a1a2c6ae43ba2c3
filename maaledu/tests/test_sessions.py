"""Sessions are Django's database sessions, created by one insert that the key's uniqueness
guards, without a look-up first."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from maaledu import sessions

pytestmark = pytest.mark.django_db


def test_a_new_session_is_created_without_looking_its_key_up_first():
    store = sessions.SessionStore()
    store["checkout_visitor_token"] = "t"

    with CaptureQueriesContext(connection) as captured:
        store.save()

    statements = [query["sql"].split()[0].upper() for query in captured.captured_queries]
    assert "SELECT" not in statements
    assert statements.count("INSERT") == 1
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
