import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import User
from accounts.selectors import verified_email_of
from accounts.tests.factories import UserFactory
from common.testing.backends import on_mongodb_only, skip_on_mongodb

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"


def _signup(client, email):
    return client.post(
        reverse("account_signup"), {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )


def test_signup_stores_the_email_lower_cased_and_sends_a_verification_link(client):
    response = _signup(client, "Ada.Lovelace@Example.COM")

    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "ada.lovelace@example.com"
    assert not EmailAddress.objects.get(user=user).verified
    assert mail.outbox and "ada.lovelace@example.com" in mail.outbox[0].to


def test_signup_with_another_case_of_an_existing_email_is_refused(client):
    UserFactory(email="ada@example.com")

    response = _signup(client, "ADA@example.com")

    assert response.status_code == 200
    assert User.objects.count() == 1
    assert "already registered" in response.text


def test_database_refuses_two_spellings_of_one_email():
    """Every backend: save() stores the normalised address, the unique index refuses it."""
    User.objects.create_user("bob@example.com", "x")
    with pytest.raises(IntegrityError):
        User.objects.create(email="BOB@example.com")


@skip_on_mongodb(
    "expression indexes (the Lower(email) unique index) are skipped",
    proven_by="accounts/tests/test_accounts.py::test_database_refuses_two_spellings_of_one_email",
)
def test_the_lower_email_index_refuses_a_raw_write_of_another_spelling():
    """A raw write that skips save() (bulk_create) meets the case-insensitive index on SQL."""
    User.objects.create_user("bob@example.com", "x")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="BOB@example.com")])


@on_mongodb_only
def test_mongodb_unique_index_refuses_a_second_user_with_one_email():
    """MongoDB's own unique index on ``email`` refuses the duplicate, even written raw; the
    normalised save() makes it case-insensitive."""
    User.objects.create_user("bob@example.com", "x")

    with pytest.raises(IntegrityError):
        User.objects.bulk_create([User(email="bob@example.com")])
    with pytest.raises(IntegrityError):
        User(email=" Bob@Example.COM").save()
    assert list(User.objects.values_list("email", flat=True)) == ["bob@example.com"]


def test_login_accepts_the_email_in_any_case(client):
    UserFactory(email="carol@example.com", password=PASSWORD)

    response = client.post(
        reverse("account_login"), {"login": "Carol@Example.com", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert client.session.get("_auth_user_id")


def test_unverified_user_has_no_verified_email_until_confirming(client):
    unverified = UserFactory(verified=False)
    verified = UserFactory()

    assert verified_email_of(unverified) is None
    assert verified_email_of(verified) == verified.email


def test_allauth_pages_use_the_site_layout(client):
    for name in ("account_login", "account_signup", "account_reset_password"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert 'class="skip-link"' in response.text, name
        assert "pico.jade.min.css" in response.text, name


def test_password_reset_sends_a_link_for_a_known_address(client):
    UserFactory(email="dana@example.com")

    client.post(reverse("account_reset_password"), {"email": "DANA@example.com"})

    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
