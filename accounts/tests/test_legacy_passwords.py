"""Old MaalEdu password hashes (bcrypt, NextAuth credentials) work once and are upgraded."""

import bcrypt
import pytest
from django.contrib.auth import authenticate

from accounts.services import legacy_password
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def old_hash(password: bytes, prefix: str) -> str:
    return f"${prefix}${bcrypt.hashpw(password, bcrypt.gensalt(4)).decode()[4:]}"


@pytest.mark.parametrize("prefix", ["2a", "2b", "2y"])
def test_each_bcrypt_variant_logs_in_and_is_rehashed_with_the_default_hasher(prefix):
    user = UserFactory(email="old@example.com")
    user.password = legacy_password(old_hash(b"old secret", prefix))
    user.save()
    assert user.password.startswith(f"bcrypt${prefix}$") is False  # "bcrypt$" + "$2a$…"
    assert user.password.startswith(f"bcrypt$${prefix}$")
    assert authenticate(None, email="old@example.com", password="old secrets") is None
    assert authenticate(None, email="old@example.com", password="old secret") == user
    user.refresh_from_db()
    assert user.password.startswith("md5$")  # the test settings' first hasher


def test_a_password_longer_than_72_bytes_is_checked_as_bcryptjs_did_not_a_500():
    long_password = "é" * 40  # 80 bytes: bcryptjs used the first 72
    user = UserFactory(email="long@example.com")
    user.password = legacy_password(old_hash(long_password.encode()[:72], "2a"))
    user.save()
    assert authenticate(None, email="long@example.com", password="x" * 100) is None
    assert authenticate(None, email="long@example.com", password=long_password) == user


@pytest.mark.parametrize(
    "value", [None, "", "plain-text", "$2a$10$short", "$1$md5crypt$abc", 12345]
)
def test_anything_but_a_bcrypt_hash_is_not_kept_as_a_password(value):
    assert legacy_password(value) is None
