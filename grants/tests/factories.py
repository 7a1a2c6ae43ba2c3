from datetime import timedelta

import factory
from django.utils import timezone

from courses.tests.factories import CourseFactory
from grants.coupons import generate_coupon_code
from grants.models import Grant


class GrantFactory(factory.django.DjangoModelFactory):
    """A pending application; ``approved=True`` gives it an available 50% coupon valid 30 days."""

    class Meta:
        model = Grant

    name = factory.Sequence(lambda n: f"Applicant {n}")
    email = factory.Sequence(lambda n: f"applicant{n}@example.com")
    course = factory.SubFactory(CourseFactory)
    statement = (
        "I lost my job last year and this certification is what employers in my city ask for. "
        "I cannot pay the full price."
    )
    organisation = "Community learning centre"
    country = "Kenya"

    class Params:
        approved = factory.Trait(
            status=Grant.Status.APPROVED,
            discount_percent=50,
            coupon_code=factory.LazyFunction(generate_coupon_code),
            coupon_expires_at=factory.LazyFunction(lambda: timezone.now() + timedelta(days=30)),
            coupon_state=Grant.CouponState.AVAILABLE,
            reviewed_at=factory.LazyFunction(timezone.now),
        )
        rejected = factory.Trait(
            status=Grant.Status.REJECTED, reviewed_at=factory.LazyFunction(timezone.now)
        )


def eid(number: int):
    """A stand-in enrollment id (grants never imports enrollments) of the backend's key type:
    ``number`` on SQL, the ObjectId whose 24 hex digits are ``number`` zero-padded on MongoDB."""
    return Grant._meta.get_field("holder_enrollment_id").to_python(f"{number:024d}")
