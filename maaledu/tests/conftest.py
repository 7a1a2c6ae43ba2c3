"""A small, complete world for the security tests: two learners, two affiliates and staff, each
owning rows the others must never see, plus one row of every model the admin shows."""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import StaffFactory, UserFactory
from affiliates.models import Payout, mask_email
from affiliates.tests.factories import AffiliateFactory, CommissionFactory, sale_key
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment, StripeEvent
from enrollments.tests.factories import EnrollmentFactory
from fakes.stripe_server import FakeStripe
from grants.tests.factories import GrantFactory
from lms_sync.models import LmsSyncJob
from ops.models import Incident

PERSONAS = ("anonymous", "learner", "other_learner", "affiliate", "other_affiliate", "staff")


@dataclass
class World:
    course: object
    hidden_course: object
    learner: object
    other_learner: object
    affiliate: object
    other_affiliate: object
    staff: object
    enrollment: object
    other_enrollment: object
    grant: object
    other_grant: object
    commission: object
    other_commission: object
    payout: object
    other_payout: object

    def user_of(self, persona: str):
        return {
            "anonymous": None,
            "learner": self.learner,
            "other_learner": self.other_learner,
            "affiliate": self.affiliate.user,
            "other_affiliate": self.other_affiliate.user,
            "staff": self.staff,
        }[persona]

    def client_for(self, persona: str, **kwargs) -> Client:
        client = Client(**kwargs)
        # A 500 must come back as a response the test can assert on, not as an exception.
        client.raise_request_exception = False
        user = self.user_of(persona)
        if user is not None:
            client.force_login(user)
        return client


def _paid_enrollment(*, course, user, session_id: str) -> Enrollment:
    now = timezone.now()
    enrollment = EnrollmentFactory(
        course=course,
        user=user,
        email=user.email,
        status=Enrollment.Status.PAID,
        paid_at=now,
        expires_at=None,
        stripe_session_id=session_id,
        stripe_payment_intent_id=f"pi_{session_id}",
    )
    LmsSyncJob.objects.create(enrollment=enrollment, status=LmsSyncJob.Status.SYNCED, synced_at=now)
    return enrollment


def _payout(affiliate, reference: str) -> Payout:
    return Payout.objects.create(
        affiliate=affiliate,
        sequence=1,
        amount_cents=12_345,
        currency="usd",
        method="paypal",
        reference=reference,
    )


@pytest.fixture
def world(db) -> World:
    course = CourseFactory(slug="security-101", title="Security Fundamentals")
    hidden = CourseFactory(slug="unreleased-course", is_published=False)
    learner = UserFactory(email="learner.one@example.com")
    other_learner = UserFactory(email="learner.two@example.com")
    affiliate = AffiliateFactory(user=UserFactory(email="affiliate.one@example.com"))
    other_affiliate = AffiliateFactory(user=UserFactory(email="affiliate.two@example.com"))
    staff = StaffFactory(email="staff.member@maaledu.test")
    world = World(
        course=course,
        hidden_course=hidden,
        learner=learner,
        other_learner=other_learner,
        affiliate=affiliate,
        other_affiliate=other_affiliate,
        staff=staff,
        enrollment=_paid_enrollment(course=course, user=learner, session_id="cs_test_learner_one"),
        other_enrollment=_paid_enrollment(
            course=CourseFactory(slug="private-two", title="Private Course Of Learner Two"),
            user=other_learner,
            session_id="cs_test_learner_two",
        ),
        grant=GrantFactory(approved=True, email=learner.email, course=course),
        other_grant=GrantFactory(email=other_learner.email, course=course),
        commission=CommissionFactory(
            affiliate=affiliate,
            course=course,
            buyer_email_masked=mask_email(learner.email),
            sale_id=sale_key(900_001),
        ),
        other_commission=CommissionFactory(
            affiliate=other_affiliate,
            course=CourseFactory(title="Other Affiliate Course Sold"),
            buyer_email_masked=mask_email(other_learner.email),
            sale_id=sale_key(900_002),
        ),
        payout=_payout(affiliate, "PAYOUT-REF-AFFILIATE-ONE"),
        other_payout=_payout(other_affiliate, "PAYOUT-REF-AFFILIATE-TWO"),
    )
    # One row of every other model the admin lists, so each admin page has an object to open.
    StripeEvent.objects.create(
        event_id="evt_security_world", type="checkout.session.completed", payload={"id": "x"}
    )
    Incident.objects.create(kind=Incident.Kind.LMS_MAPPING, key="course-101", last_detail="404")
    Incident.objects.create(kind=Incident.Kind.choices[0][0], last_detail="probe")
    Group.objects.create(name="Reviewers")
    return world


@pytest.fixture
def fake_stripe(settings):
    """The local fake Stripe API; the real SDK talks to it over HTTP."""
    with FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url
        yield fake
