"""Addresses the e-mail validator accepts but the mail layer cannot encode are refused where they
are typed, on every form; and a mail provider failing never turns a page into a 500."""

import pytest
from django.core import mail

from accounts.models import User
from affiliates.models import Affiliate
from enrollments.models import Enrollment
from grants.models import Grant
from maaledu.tests.test_hostile_input import quiet_limits, shows_an_error

pytestmark = pytest.mark.django_db

# Django's EmailValidator lets each of these through; Python's IDNA codec, which Django's mail
# layer uses for the domain, refuses them or maps them to something that is not a domain.
UNENCODABLE = [
    "someone@example.com\u202eadmin",  # right-to-left override
    "someone@exa\u200emple.com",  # left-to-right mark
    "someone@\u0627b.com",  # breaks the bidi rule
    "someone@example\u3000.com",  # ideographic space: "example .com"
]
PASSWORD = "Corr3ct-horse-battery"


def rows():
    return (
        User.objects.count(),
        Grant.objects.count(),
        Affiliate.objects.count(),
        Enrollment.objects.count(),
    )


def form(world, persona: str, path: str, address: str):
    data = {
        "/accounts/signup/": {"email": address, "password1": PASSWORD, "password2": PASSWORD},
        "/accounts/password/reset/": {"email": address},
        "/grants/apply/": {
            "name": "Ada",
            "email": address,
            "course": world.course.pk,
            "statement": "I need this course for my work. " * 5,
            "country": "NL",
        },
        "/affiliates/join/": {
            "payout_method": "paypal",
            "paypal_email": address,
            "accepted_terms": "on",
        },
        "/courses/security-101/checkout/": {"email": address},
    }[path]
    return world.client_for(persona).post(path, data)


@pytest.mark.parametrize("address", UNENCODABLE)
@pytest.mark.parametrize(
    ("path", "persona"),
    [
        ("/accounts/signup/", "anonymous"),
        ("/accounts/password/reset/", "anonymous"),
        ("/grants/apply/", "anonymous"),
        ("/affiliates/join/", "other_learner"),
        ("/courses/security-101/checkout/", "anonymous"),
    ],
)
def test_an_address_the_mail_layer_cannot_encode_is_refused_on_every_form(
    world, settings, fake_stripe, path, persona, address
):
    quiet_limits(settings)
    before = rows()

    response = form(world, persona, path, address)

    assert response.status_code in (200, 400)
    assert shows_an_error(response)
    assert "valid email address" in response.text or "PayPal account" in response.text
    assert rows() == before
    assert mail.outbox == []


@pytest.mark.parametrize("address", ["learner.one@example.com", "nobody@example.com"])
def test_a_password_reset_whose_mail_fails_still_answers_the_usual_page(world, settings, address):
    # SendGrid through anymail, unreachable: sending raises inside allauth's request.
    quiet_limits(settings)
    settings.EMAIL_BACKEND = "anymail.backends.sendgrid.EmailBackend"
    settings.ANYMAIL = {"SENDGRID_API_KEY": "SG.test", "SENDGRID_API_URL": "http://127.0.0.1:1/v3/"}

    response = world.client_for("anonymous").post("/accounts/password/reset/", {"email": address})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"


def test_an_international_domain_is_still_accepted(world, settings):
    quiet_limits(settings)

    response = world.client_for("anonymous").post(
        "/accounts/signup/",
        {"email": "ada@bücher.example", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302
    assert User.objects.filter(email="ada@bücher.example").exists()
