"""The enrollment rules the database holds, on every backend: unique indexes reject the second
paid or open enrollment of a learner and course (partial filters on ``status``, MongoDB and
PostgreSQL alike), a second inbox row of one Stripe event, a second refund request per total.
The CHECK constraints SQL adds are a second net; the services apply the same rules first."""

import pytest
from django.db import IntegrityError

from common.transactions import atomic
from enrollments.models import Enrollment, RefundRequest, StripeEvent
from enrollments.services.refunds import apply_refund
from enrollments.tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db

Status = Enrollment.Status


def _again(enrollment: Enrollment, status: str):
    return EnrollmentFactory.build(
        email=enrollment.email, course=enrollment.course, status=status, stripe_session_id=None
    )


def test_a_second_paid_enrollment_of_a_learner_and_course_is_rejected():
    paid = EnrollmentFactory(paid=True)

    with pytest.raises(IntegrityError), atomic():
        _again(paid, Status.PAID).save()

    assert Enrollment.objects.filter(email=paid.email, course=paid.course).count() == 1


def test_a_second_open_checkout_of_a_learner_and_course_is_rejected():
    pending = EnrollmentFactory()

    with pytest.raises(IntegrityError), atomic():
        _again(pending, Status.PENDING).save()

    assert Enrollment.objects.filter(email=pending.email, course=pending.course).count() == 1


def test_ended_checkouts_do_not_count_against_a_new_one_or_a_payment():
    first = EnrollmentFactory(status=Status.EXPIRED)
    for status in (Status.CANCELED, Status.FAILED, Status.PENDING, Status.PAID):
        _again(first, status).save()

    assert Enrollment.objects.filter(email=first.email, course=first.course).count() == 5


def test_one_inbox_row_per_stripe_event():
    StripeEvent.objects.create(event_id="evt_once", type="checkout.session.completed", payload={})

    with pytest.raises(IntegrityError), atomic():
        StripeEvent.objects.create(
            event_id="evt_once", type="checkout.session.completed", payload={}
        )

    assert StripeEvent.objects.count() == 1


def test_one_refund_request_per_refunded_total():
    enrollment = EnrollmentFactory(paid=True)
    RefundRequest.objects.create(
        enrollment=enrollment, amount_cents=100, refunded_total_cents=100, revoke_access=False
    )

    with pytest.raises(IntegrityError), atomic():
        RefundRequest.objects.create(
            enrollment=enrollment, amount_cents=100, refunded_total_cents=100, revoke_access=False
        )


def test_stripe_reporting_more_refunded_than_was_paid_records_the_amount_paid():
    """The service keeps ``amount_refunded_cents <= amount_due_cents`` (SQL's CHECK
    ``enrollment_refund_at_most_amount_paid`` is only a second net, absent on MongoDB)."""
    enrollment = EnrollmentFactory(paid=True, list_price_cents=3000, amount_due_cents=3000)

    apply_refund(enrollment_id=enrollment.pk, refunded_cents=9000)

    enrollment.refresh_from_db()
    assert enrollment.amount_refunded_cents == 3000
    assert enrollment.status == Status.REFUNDED
