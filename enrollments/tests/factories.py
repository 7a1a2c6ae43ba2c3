import factory

from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    course = factory.SubFactory(CourseFactory)
    list_price_cents = factory.LazyAttribute(lambda e: e.course.price_cents)
    discount_cents = 0
    amount_due_cents = factory.LazyAttribute(lambda e: e.list_price_cents - e.discount_cents)
    currency = factory.LazyAttribute(lambda e: e.course.currency)
    stripe_session_id = factory.Sequence(lambda n: f"cs_test_factory_{n}")
