"""Every write to a user's row moves that user's version (``accounts.user_versions``), so what
a web process keeps of the signed-in user is never served past the write."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.hashers import make_password

from accounts import services, user_versions
from accounts.tests.factories import UserFactory
from common.testing.backends import skip_on_mongodb
from common.transactions import atomic

pytestmark = pytest.mark.django_db


def _imported(email: str, **changes):
    fields = {
        "email": email,
        "name": "",
        "password": None,
        "verified": True,
        "is_staff": False,
        "date_joined": datetime(2020, 1, 1, tzinfo=UTC),
    }
    return services.import_user(**{**fields, **changes})


def test_saving_or_deleting_a_user_moves_their_version_only():
    user, other = UserFactory(), UserFactory()
    before, others = user_versions.current(user.pk), user_versions.current(other.pk)

    user.name = "Ann"
    user.save()
    saved = user_versions.current(user.pk)
    user_pk = user.pk
    user.delete()

    assert before != saved != user_versions.current(user_pk)
    assert user_versions.current(other.pk) == others


def test_a_re_import_that_gains_something_moves_the_version_and_one_that_gains_nothing_not():
    user = UserFactory()
    before = user_versions.current(user.pk)

    _imported(user.email)  # nothing to gain: no name, no password, not staff
    unchanged = user_versions.current(user.pk)
    _imported(user.email, is_staff=True)

    assert unchanged == before
    assert user_versions.current(user.pk) != before


def test_a_re_import_giving_a_password_to_a_user_without_one_moves_the_version():
    user = UserFactory()
    user.set_unusable_password()
    user.save()
    before = user_versions.current(user.pk)

    _imported(user.email, password=make_password("an imported passphrase"))

    assert user_versions.current(user.pk) != before


def test_erasing_a_user_moves_their_version():
    user = UserFactory()
    before = user_versions.current(user.pk)

    assert services.erase_user(user_id=user.pk, email=user.email)

    assert user_versions.current(user.pk) != before


@skip_on_mongodb(
    "the test server is a standalone MongoDB (no transactions: each write commits alone)",
    proven_by="accounts/tests/test_user_versions.py::test_saving_or_deleting_a_user_moves_their_version_only",
)
def test_a_version_read_while_the_write_was_uncommitted_is_replaced_at_the_commit(
    django_capture_on_commit_callbacks,
):
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=True), atomic():
        user.name = "Ann"
        user.save()
        during = user_versions.current(user.pk)

    assert user_versions.current(user.pk) != during
