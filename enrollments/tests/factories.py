import factory
from django.utils import timezone

from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment


class EnrollmentFactory(factory.django.DjangoModelFactory):
    """A pending checkout by default. Traits for the states tests build most:

    - ``paid=True``: paid now (``paid_at``), no open checkout (``expires_at`` cleared);
    - ``refunded=True``: paid, then refunded in full.

    The LMS side of an enrollment (its sync job, "synced") is lms_sync's state, not a column
    this factory should set: lms_sync's tests build it (``lms_sync/tests``).
    """

    class Meta:
        model = Enrollment

    class Params:
        paid = factory.Trait(
            status=Enrollment.Status.PAID,
            paid_at=factory.LazyFunction(timezone.now),
            expires_at=None,
        )
        refunded = factory.Trait(
            paid=True,
            status=Enrollment.Status.REFUNDED,
            amount_refunded_cents=factory.SelfAttribute("amount_due_cents"),
        )

    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    course = factory.SubFactory(CourseFactory)
    list_price_cents = factory.LazyAttribute(lambda e: e.course.price_cents)
    discount_cents = 0
    amount_due_cents = factory.LazyAttribute(lambda e: e.list_price_cents - e.discount_cents)
    currency = factory.LazyAttribute(lambda e: e.course.currency)
    stripe_session_id = factory.Sequence(lambda n: f"cs_test_factory_{n}")
