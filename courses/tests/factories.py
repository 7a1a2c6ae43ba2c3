import factory

from courses.models import Course


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    slug = factory.Sequence(lambda n: f"course-{n}")
    title = factory.Sequence(lambda n: f"Certification course {n:03d}")
    subtitle = "Pass the exam with labs and practice tests."
    description = "A complete preparation course."
    price_cents = 49900
    currency = "usd"
    features = factory.LazyFunction(lambda: ["Practice exams", "Labs"])
    level = Course.Level.BEGINNER
    duration = "6 weeks"
    is_published = True
    frappe_course = factory.LazyAttribute(lambda course: course.slug)
