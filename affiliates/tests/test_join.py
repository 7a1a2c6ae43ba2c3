from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from affiliates import services
from affiliates.models import Affiliate
from affiliates.tests.factories import AffiliateFactory
from common import outbox
from common.tasks import deliver_outbox_email

pytestmark = pytest.mark.django_db

JOIN = reverse("affiliates:join")
PAYPAL_FORM = {
    "payout_method": "paypal",
    "paypal_email": "Ann.Pay@Example.com",
    "accepted_terms": "on",
}


class RefusingEmailBackend(BaseEmailBackend):
    """An e-mail provider that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("smtp down")


def test_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(JOIN)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_unverified_user_is_asked_to_verify_and_cannot_join(client):
    user = UserFactory(verified=False)
    client.force_login(user)

    response = client.post(JOIN, PAYPAL_FORM)

    assert "Verify Your Email Address" in response.text
    assert not Affiliate.objects.exists()
    assert [message.to for message in mail.outbox] == [[user.email]]  # the verification link


def test_verified_user_joins_with_paypal_and_gets_one_welcome_email(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory(email="ann@example.com")
    client.force_login(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(JOIN, PAYPAL_FORM)

    assert response.status_code == 302
    assert response["Location"] == reverse("affiliates:dashboard")
    affiliate = Affiliate.objects.get(user=user)
    assert affiliate.status == Affiliate.Status.ACTIVE
    assert affiliate.rate_percent == 10
    assert affiliate.paypal_email == "ann.pay@example.com"
    assert affiliate.terms_accepted_at is not None
    assert "ann" not in affiliate.referral_code and len(affiliate.referral_code) == 10
    assert len(mail.outbox) == 1
    welcome = mail.outbox[0]
    assert welcome.subject == "Welcome to the MaalEdu affiliate programme"
    assert welcome.to == ["ann@example.com"]
    assert f"http://testserver/courses/?ref={affiliate.referral_code}" in welcome.body
    assert f"?ref={affiliate.referral_code}" in welcome.alternatives[0][0]


def test_new_affiliates_get_the_configured_default_rate(settings):
    settings.AFFILIATE_DEFAULT_RATE_PERCENT = 15

    affiliate = services.join_affiliate_programme(
        user=UserFactory(), payout_method="paypal", paypal_email="a@b.com", accepted_terms=True
    )

    assert affiliate.rate_percent == 15


def test_referral_codes_are_random_and_distinct():
    codes = {
        services.join_affiliate_programme(
            user=UserFactory(), payout_method="paypal", paypal_email="a@b.com", accepted_terms=True
        ).referral_code
        for _ in range(20)
    }

    assert len(codes) == 20


def test_a_referral_code_collision_draws_another_code(monkeypatch):
    AffiliateFactory(referral_code="taken2345a")
    drawn = iter(["taken2345a", "fresh2345a"])
    monkeypatch.setattr(services, "new_referral_code", lambda: next(drawn))

    affiliate = services.join_affiliate_programme(
        user=UserFactory(), payout_method="paypal", paypal_email="a@b.com", accepted_terms=True
    )

    assert affiliate.referral_code == "fresh2345a"


def test_bank_details_are_validated_and_normalised(client):
    client.force_login(UserFactory())
    form = {
        "payout_method": "bank",
        "bank_account_holder": "  Ann   Lee ",
        "bank_account": "de89 3704 0044 0532 0130 00",
        "bank_name": "Commerzbank",
        "accepted_terms": "on",
    }

    response = client.post(JOIN, form)

    assert response.status_code == 302
    affiliate = Affiliate.objects.get()
    assert affiliate.bank_account == "DE89370400440532013000"
    assert affiliate.bank_account_holder == "Ann Lee"
    assert affiliate.paypal_email == ""


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"payout_method": "paypal", "paypal_email": "not-an-email"}, "paypal_email", "PayPal"),
        ({"payout_method": "paypal"}, "paypal_email", "PayPal"),
        (
            {
                "payout_method": "bank",
                "bank_account_holder": "Ann Lee",
                "bank_name": "Bank",
                "bank_account": "DE89 3704 0044 0532 0130 01",
            },
            "bank_account",
            "IBAN is not valid",
        ),
        (
            {
                "payout_method": "bank",
                "bank_account_holder": "Ann Lee",
                "bank_name": "Bank",
                "bank_account": "123456789",
            },
            "bank_swift",
            "SWIFT/BIC",
        ),
        (
            {
                "payout_method": "bank",
                "bank_account_holder": "Ann Lee",
                "bank_name": "Bank",
                "bank_account": "123456789",
                "bank_swift": "NOT A BIC",
            },
            "bank_swift",
            "8 or 11",
        ),
        (
            {
                "payout_method": "bank",
                "bank_account_holder": "",
                "bank_name": "Bank",
                "bank_account": "DE89370400440532013000",
            },
            "bank_account_holder",
            "holder",
        ),
        ({"payout_method": "bitcoin"}, "payout_method", "valid choice"),
    ],
)
def test_invalid_payout_details_are_refused_with_a_message_on_the_field(
    client, form, field, message
):
    client.force_login(UserFactory())

    response = client.post(JOIN, {**form, "accepted_terms": "on"})

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Affiliate.objects.exists()


def test_terms_must_be_accepted(client):
    client.force_login(UserFactory())

    response = client.post(JOIN, {"payout_method": "paypal", "paypal_email": "a@b.com"})

    assert response.status_code == 200
    assert "accept the programme terms" in response.text
    assert not Affiliate.objects.exists()


def test_account_number_with_swift_is_accepted_and_iban_with_swift_too():
    numbered = services.join_affiliate_programme(
        user=UserFactory(),
        payout_method="bank",
        bank_account_holder="Ann Lee",
        bank_account="0012-3456-789",
        bank_name="Chase",
        bank_swift="chasus33",
        accepted_terms=True,
    )
    iban = services.join_affiliate_programme(
        user=UserFactory(),
        payout_method="bank",
        bank_account_holder="Bo Ek",
        bank_account="GB82 WEST 1234 5698 7654 32",
        bank_name="Westminster",
        bank_swift="WESTGB2LXXX",
        accepted_terms=True,
    )

    assert (numbered.bank_account, numbered.bank_swift) == ("00123456789", "CHASUS33")
    assert (iban.bank_account, iban.bank_swift) == ("GB82WEST12345698765432", "WESTGB2LXXX")


def test_service_refuses_unverified_users_and_unaccepted_terms():
    with pytest.raises(ValidationError, match="Verify your e-mail"):
        services.join_affiliate_programme(
            user=UserFactory(verified=False),
            payout_method="paypal",
            paypal_email="a@b.com",
            accepted_terms=True,
        )
    with pytest.raises(ValidationError, match="accept the programme terms"):
        services.join_affiliate_programme(
            user=UserFactory(),
            payout_method="paypal",
            paypal_email="a@b.com",
            accepted_terms=False,
        )
    assert not Affiliate.objects.exists()


def test_joining_twice_returns_the_existing_account(django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.join_affiliate_programme(
            user=user, payout_method="paypal", paypal_email="a@b.com", accepted_terms=True
        )
        second = services.join_affiliate_programme(
            user=user, payout_method="paypal", paypal_email="other@b.com", accepted_terms=True
        )

    assert second.pk == first.pk
    assert second.paypal_email == "a@b.com"
    assert Affiliate.objects.count() == 1
    assert len(mail.outbox) == 1


def test_join_page_of_an_existing_affiliate_redirects_to_the_dashboard(client):
    affiliate = AffiliateFactory()
    client.force_login(affiliate.user)

    response = client.post(JOIN, PAYPAL_FORM, follow=True)

    assert response.redirect_chain == [(reverse("affiliates:dashboard"), 302)]
    assert "already an affiliate" in response.text
    assert Affiliate.objects.count() == 1


def test_join_attempts_are_rate_limited_per_user(client, settings):
    settings.AFFILIATE_JOIN_RATE = "2/h"
    client.force_login(UserFactory())
    bad = {"payout_method": "paypal", "paypal_email": "nope", "accepted_terms": "on"}

    statuses = [client.post(JOIN, bad).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_the_welcome_queued_twice_sends_one_email(django_capture_on_commit_callbacks):
    affiliate = AffiliateFactory()

    with django_capture_on_commit_callbacks(execute=True):
        first = services.queue_welcome_email(affiliate)
        second = services.queue_welcome_email(affiliate)

    assert (first, second) == (True, False)
    assert len(mail.outbox) == 1
    assert deliver_outbox_email.delay(services.welcome_key(affiliate.pk)).get() is False
    assert len(mail.outbox) == 1


def test_welcome_email_that_fails_to_send_is_sent_by_a_retry(
    settings, django_capture_on_commit_callbacks
):
    affiliate = AffiliateFactory()
    settings.EMAIL_BACKEND = f"{__name__}.RefusingEmailBackend"

    with django_capture_on_commit_callbacks(execute=True):
        services.queue_welcome_email(affiliate)
    assert outbox.sent_at(services.welcome_key(affiliate.pk)) is None
    assert mail.outbox == []

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox.sweep(now=timezone.now() + timedelta(minutes=5)) == 1
    assert outbox.sent_at(services.welcome_key(affiliate.pk)) is not None
    assert len(mail.outbox) == 1
