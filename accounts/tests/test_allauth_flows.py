"""allauth's links end to end, on every backend: sign-up and its e-mail confirmation link, the
password-reset link, and a forged reset link (allauth's "bad token" page, never a 500).

On MongoDB the user's key is an ObjectId: reset links carry its ``str()`` (allauth's path for a
non-integer key) and confirmations are stored rows (``ACCOUNT_EMAIL_CONFIRMATION_HMAC`` is off,
as allauth's HMAC key would sign the address's ObjectId as JSON)."""

import json
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"
NEW_PASSWORD = "another-long-passphrase-77"
_LINK = re.compile(r"https?://[^\s/]+(/accounts/[^\s]+/)")


def _link_in(message, path_part: str) -> str:
    """The path of the first link in an e-mail whose path contains ``path_part``."""
    paths = [path for path in _LINK.findall(message.body) if path_part in path]
    assert paths, message.body
    return paths[0]


def _session_is_plain_json(client) -> None:
    """Session contents are plain JSON (no ObjectId, no model instance): the JSON serializer
    would refuse them, and a key stored as an ObjectId would not survive a round trip."""
    data = dict(client.session.items())
    assert json.loads(json.dumps(data)) == data


def test_sign_up_then_the_confirmation_link_verifies_the_address(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "Ada@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "ada@example.com"
    assert not EmailAddress.objects.get(user=user).verified
    _session_is_plain_json(client)

    link = _link_in(mail.outbox[-1], "/confirm-email/")
    client.logout()
    assert client.get(link).status_code == 200  # the confirmation page (no confirm on GET)
    confirmed = client.post(link)

    assert confirmed.status_code == 302
    assert EmailAddress.objects.get(user=user).verified


def test_a_garbage_confirmation_link_is_allauths_invalid_link_page(client):
    response = client.get(reverse("account_confirm_email", args=["not-a-key"]))

    assert response.status_code == 200
    assert response.context["confirmation"] is None


def test_the_password_reset_link_sets_a_new_password(client):
    user = UserFactory(email="dana@example.com", password=PASSWORD)
    client.post(reverse("account_reset_password"), {"email": "DANA@example.com"})

    link = _link_in(mail.outbox[-1], "/password/reset/key/")
    set_password_page = client.get(link, follow=True)
    assert set_password_page.status_code == 200
    assert set_password_page.context["form"] is not None  # the new-password form, no "bad token"
    changed = client.post(
        set_password_page.redirect_chain[-1][0] if set_password_page.redirect_chain else link,
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert changed.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    logged_in = client.post(
        reverse("account_login"), {"login": "dana@example.com", "password": NEW_PASSWORD}
    )
    assert logged_in.status_code == 302
    _session_is_plain_json(client)


@pytest.mark.parametrize(
    "uid",
    [
        "zz",  # not a key of any backend
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",  # too long for base36 and not an ObjectId
        "000000000000000000000001",  # well formed (an ObjectId, a base36 number), nobody's
        "user",  # replaced by a real user's own id below: a real user, a forged key
    ],
)
def test_a_forged_reset_link_is_allauths_invalid_link_page(client, uid):
    if uid == "user":
        uid = _uid_of(UserFactory(email="erin@example.com"))

    response = client.get(
        reverse("account_reset_password_from_key", kwargs={"uidb36": uid, "key": "set-by-me"}),
        follow=True,
    )

    assert response.status_code == 200
    assert response.context["token_fail"] is True


def _uid_of(user) -> str:
    from allauth.account.utils import user_pk_to_url_str

    return user_pk_to_url_str(user)
