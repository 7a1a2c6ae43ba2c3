import factory
from bson import ObjectId
from django.conf import settings
from django.utils import timezone

from accounts.tests.factories import UserFactory
from affiliates.models import Affiliate, Commission, PayoutMethod
from common.logging import mask_email
from common.money import percent_of
from courses.tests.factories import CourseFactory


def sale_key(n):
    """The ``n``-th made-up sale id of a test, of the type ``Commission.sale_id`` holds (an
    enrollment pk): ``n`` on SQL databases, an ObjectId spelling ``n`` on MongoDB. A key
    already made is returned as it is."""
    if isinstance(n, ObjectId) or not settings.ON_MONGODB:
        return n
    return ObjectId(f"{n:024x}")


class AffiliateFactory(factory.django.DjangoModelFactory):
    """An active affiliate paid by PayPal, whose user has a verified e-mail."""

    class Meta:
        model = Affiliate

    user = factory.SubFactory(UserFactory)
    rate_percent = 10
    payout_method = PayoutMethod.PAYPAL
    paypal_email = factory.LazyAttribute(lambda affiliate: affiliate.user.email)
    terms_accepted_at = factory.LazyFunction(timezone.now)


class CommissionFactory(factory.django.DjangoModelFactory):
    """A pending commission on a sale of 249.50 at the affiliate's rate (as record_commission
    would write it); pass ``status``/``approved_at`` for other states."""

    class Meta:
        model = Commission

    affiliate = factory.SubFactory(AffiliateFactory)
    sale_id = factory.Sequence(lambda n: sale_key(1_000_000 + n))
    course = factory.SubFactory(CourseFactory)
    buyer_email_masked = factory.Sequence(lambda n: mask_email(f"buyer{n}@example.com"))
    sold_at = factory.LazyFunction(timezone.now)
    currency = "usd"
    sale_amount_cents = 24950
    rate_percent = factory.LazyAttribute(lambda commission: commission.affiliate.rate_percent)
    amount_cents = factory.LazyAttribute(
        lambda commission: percent_of(commission.sale_amount_cents, commission.rate_percent)
    )
