"""The rules the CHECK constraints state hold on every backend: the models refuse them on every
save (MongoDB enforces no CHECK constraint), and on SQL databases the constraints refuse even a
raw write that skips the model."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from accounts.tests.factories import UserFactory
from affiliates import services
from affiliates.models import Affiliate, Commission, Payout
from affiliates.tests.factories import AffiliateFactory, CommissionFactory, sale_key
from common.testing.backends import skip_on_mongodb
from common.transactions import atomic
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

RULES = "affiliates/tests/test_rules.py"
NOT_ENFORCED = "CHECK constraints are not enforced"


def _refused(save, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        save()
    assert field in refused.value.message_dict


def test_an_affiliate_rate_above_100_is_refused_on_every_write():
    affiliate = AffiliateFactory(rate_percent=10)
    affiliate.rate_percent = 101
    _refused(lambda: affiliate.save(update_fields=["rate_percent"]), "rate_percent")
    assert Affiliate.objects.get(pk=affiliate.pk).rate_percent == 10
    _refused(lambda: AffiliateFactory(rate_percent=150), "rate_percent")
    with pytest.raises(ValidationError):
        services.import_affiliate(
            user=UserFactory(),
            rate_percent=101,
            active=True,
            payout_method="paypal",
            paypal_email="x@example.com",
            joined_at=timezone.now(),
        )


def test_an_affiliate_needs_a_known_status_and_its_payout_details():
    affiliate = AffiliateFactory()
    affiliate.status = "banned"
    _refused(affiliate.save, "status")
    affiliate.status, affiliate.paypal_email = Affiliate.Status.ACTIVE, ""
    _refused(affiliate.save, "payout_method")
    affiliate.payout_method, affiliate.bank_account_holder = "bank", "Ann"
    _refused(affiliate.save, "payout_method")  # no account number, no bank name
    assert Affiliate.objects.get(pk=affiliate.pk).paypal_email


def test_commission_amounts_rate_status_and_currency_are_refused_when_out_of_bounds():
    commission = CommissionFactory(amount_cents=1000)
    for field, value in (
        ("rate_percent", 101),
        ("reversed_cents", 1001),
        ("paid_cents", 1001),
        ("status", "lost"),
        ("currency", "xyz"),
    ):
        original = getattr(commission, field)
        setattr(commission, field, value)
        _refused(commission.save, field)
        setattr(commission, field, original)
    commission.save()  # back within bounds
    assert Commission.objects.get(pk=commission.pk).reversed_cents == 0


def test_a_paid_commission_needs_its_payout():
    commission = CommissionFactory(status=Commission.Status.APPROVED)
    commission.status = Commission.Status.PAID
    _refused(commission.save, "payout")
    _refused(
        lambda: CommissionFactory(status=Commission.Status.PAID, sale_id=sale_key(5)), "payout"
    )


def test_a_payout_amount_must_be_positive_in_a_known_currency():
    affiliate = AffiliateFactory()
    payout = Payout(
        affiliate=affiliate, sequence=1, amount_cents=0, currency="usd", method="paypal"
    )
    _refused(payout.save, "amount_cents")
    payout.amount_cents, payout.currency = 100, "xyz"
    _refused(payout.save, "currency")
    assert not Payout.objects.exists()


def test_services_keep_the_rules_on_their_conditional_updates(settings):
    """Reversals never exceed the amount, and payouts only pay what they hold."""
    settings.PAYOUT_MINIMUM_CENTS = 100
    affiliate = AffiliateFactory(rate_percent=10)
    services.record_commission(
        affiliate_id=affiliate.pk,
        sale_id=sale_key(1),
        course_id=CourseFactory().pk,
        buyer_email="b@example.com",
        amount_paid_cents=10000,
        currency="usd",
        sold_at=timezone.now(),
    )
    Commission.objects.update(status=Commission.Status.APPROVED)
    payout = services.create_payout(
        affiliate_id=affiliate.pk, currency="usd", method="paypal", reference="r", created_by=None
    )
    services.reverse_commission(
        sale_id=sale_key(1), refunded_cents_total=99999, charged_cents=10000
    )
    commission = Commission.objects.get()
    assert commission.reversed_cents == commission.amount_cents == 1000
    assert commission.paid_cents <= commission.amount_cents
    assert commission.payout_id == payout.pk
    commission.check_rules()  # what the services wrote passes every rule
    Payout.objects.get().check_rules()


# --- On SQL databases the constraints refuse even a write that skips the model -----------------


def _raw_write_refused(queryset, **values) -> None:
    with pytest.raises(IntegrityError), atomic():
        queryset.update(**values)


@skip_on_mongodb(
    NOT_ENFORCED, proven_by=f"{RULES}::test_an_affiliate_rate_above_100_is_refused_on_every_write"
)
def test_the_database_refuses_an_affiliate_rate_above_100():
    affiliate = AffiliateFactory()
    _raw_write_refused(Affiliate.objects.filter(pk=affiliate.pk), rate_percent=101)


@skip_on_mongodb(
    NOT_ENFORCED,
    proven_by=f"{RULES}::test_an_affiliate_needs_a_known_status_and_its_payout_details",
)
def test_the_database_refuses_an_unknown_affiliate_status_or_missing_payout_details():
    affiliate = AffiliateFactory()
    _raw_write_refused(Affiliate.objects.filter(pk=affiliate.pk), status="banned")
    _raw_write_refused(Affiliate.objects.filter(pk=affiliate.pk), paypal_email="")


@skip_on_mongodb(
    NOT_ENFORCED,
    proven_by=f"{RULES}::test_commission_amounts_rate_status_and_currency_are_refused_when_out_of_bounds",
)
def test_the_database_refuses_commission_figures_out_of_bounds():
    commissions = Commission.objects.filter(pk=CommissionFactory(amount_cents=1000).pk)
    _raw_write_refused(commissions, rate_percent=101)
    _raw_write_refused(commissions, reversed_cents=1001)
    _raw_write_refused(commissions, paid_cents=1001)
    _raw_write_refused(commissions, status="lost")
    _raw_write_refused(commissions, currency="xyz")


@skip_on_mongodb(NOT_ENFORCED, proven_by=f"{RULES}::test_a_paid_commission_needs_its_payout")
def test_the_database_refuses_a_paid_commission_without_payout():
    commissions = Commission.objects.filter(pk=CommissionFactory().pk)
    _raw_write_refused(commissions, status=Commission.Status.PAID)


@skip_on_mongodb(
    NOT_ENFORCED,
    proven_by=f"{RULES}::test_a_payout_amount_must_be_positive_in_a_known_currency",
)
def test_the_database_refuses_an_empty_payout_or_an_unknown_currency():
    affiliate = AffiliateFactory()
    payout = Payout.objects.create(
        affiliate=affiliate, sequence=1, amount_cents=100, currency="usd", method="paypal"
    )
    _raw_write_refused(Payout.objects.filter(pk=payout.pk), amount_cents=0)
    _raw_write_refused(Payout.objects.filter(pk=payout.pk), currency="xyz")
