"""Staff decisions through the services, and the e-mails they send (once)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from common import outbox
from common.tasks import deliver_outbox_email
from common.testing.backends import skip_on_mongodb
from common.testing.mail import REFUSING_BACKEND, WORKING_BACKEND
from courses.tests.factories import CourseFactory
from grants.coupons import generate_coupon_code, normalize_coupon_code
from grants.models import Grant
from grants.services import GrantError, approve_grants, decisions, emails, reject_grants
from grants.tests.factories import GrantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer():
    return StaffFactory(email="reviewer@maaledu.test")


def _approve(grants, reviewer, *, discount=50, days=30, capture):
    with capture(execute=True):
        return approve_grants(
            grant_ids=[grant.pk for grant in grants],
            reviewer=reviewer,
            discount_percent=discount,
            valid_days=days,
        )


def test_approving_gives_each_pending_grant_its_own_coupon(
    reviewer, django_capture_on_commit_callbacks
):
    grants = GrantFactory.create_batch(3)
    now = timezone.now()
    before = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as every backend stores

    approved = _approve(grants, reviewer, capture=django_capture_on_commit_callbacks)

    assert approved == 3
    codes = set()
    for grant in grants:
        grant.refresh_from_db()
        assert grant.status == Grant.Status.APPROVED
        assert grant.coupon_state == Grant.CouponState.AVAILABLE
        assert grant.discount_percent == 50
        assert normalize_coupon_code(grant.coupon_code) == grant.coupon_code
        assert before + timedelta(days=30) <= grant.coupon_expires_at
        assert grant.coupon_expires_at <= timezone.now() + timedelta(days=30)
        assert grant.reviewed_by == reviewer
        assert grant.reviewed_at is not None
        codes.add(grant.coupon_code)
    assert len(codes) == 3


def test_the_approval_email_has_the_code_discount_course_expiry_and_checkout_link(
    reviewer, django_capture_on_commit_callbacks
):
    course = CourseFactory(title="Cloud Architect", slug="cloud-architect", price_cents=49900)
    grant = GrantFactory(course=course, email="ada@example.com", name="Ada")

    _approve([grant], reviewer, days=14, capture=django_capture_on_commit_callbacks)

    grant.refresh_from_db()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert message.subject == "Your grant is approved: 50% off Cloud Architect"
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert grant.coupon_code in body
        assert "50%" in body
        assert "you pay $249.50 instead of $499.00" in body
        assert "Cloud Architect" in body
        assert f"{grant.coupon_expires_at:%-d %B %Y}" in body
        assert (
            f"http://testserver/courses/cloud-architect/checkout/?coupon={grant.coupon_code}"
            in body
        )


def test_a_100_percent_approval_email_says_the_course_is_free(
    reviewer, django_capture_on_commit_callbacks
):
    grant = GrantFactory()

    _approve([grant], reviewer, discount=100, capture=django_capture_on_commit_callbacks)

    assert "100% (the course is free)" in mail.outbox[0].body


def test_approving_an_already_decided_grant_changes_nothing_and_sends_nothing(
    reviewer, django_capture_on_commit_callbacks
):
    approved = GrantFactory(approved=True)
    rejected = GrantFactory(rejected=True)
    snapshot = Grant.objects.filter(pk=approved.pk).values().get()

    count = _approve(
        [approved, rejected], reviewer, discount=80, capture=django_capture_on_commit_callbacks
    )

    assert count == 0
    assert Grant.objects.filter(pk=approved.pk).values().get() == snapshot
    rejected.refresh_from_db()
    assert rejected.status == Grant.Status.REJECTED
    assert mail.outbox == []


def test_approving_the_same_grant_twice_emails_once(reviewer, django_capture_on_commit_callbacks):
    grant = GrantFactory()

    first = _approve([grant], reviewer, capture=django_capture_on_commit_callbacks)
    second = _approve([grant, grant], reviewer, capture=django_capture_on_commit_callbacks)

    assert (first, second) == (1, 0)
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(("discount", "days"), [(9, 30), (101, 30), (50, 0)])
def test_approval_outside_the_allowed_discount_or_validity_is_refused(reviewer, discount, days):
    grant = GrantFactory()

    with pytest.raises(GrantError):
        approve_grants(
            grant_ids=[grant.pk], reviewer=reviewer, discount_percent=discount, valid_days=days
        )

    grant.refresh_from_db()
    assert grant.status == Grant.Status.PENDING


def test_a_colliding_coupon_code_is_drawn_again(reviewer, monkeypatch):
    taken = GrantFactory(approved=True).coupon_code
    fresh = generate_coupon_code()
    draws = iter([taken, fresh])
    monkeypatch.setattr(decisions, "generate_coupon_code", lambda: next(draws))
    grant = GrantFactory()

    assert (
        approve_grants(grant_ids=[grant.pk], reviewer=reviewer, discount_percent=50, valid_days=30)
        == 1
    )

    grant.refresh_from_db()
    assert grant.coupon_code == fresh


@skip_on_mongodb(
    "no transaction on a standalone server, so the approvals before the failing one stay "
    "(each whole, with its e-mail)",
    proven_by="grants/tests/test_decisions.py::"
    "test_after_a_failed_batch_approving_again_approves_each_grant_once",
)
def test_when_no_unique_code_can_be_drawn_nothing_is_approved(reviewer, monkeypatch):
    taken = GrantFactory(approved=True).coupon_code
    first, second = GrantFactory(), GrantFactory()
    # The first grant gets a fresh code; every draw for the second collides.
    monkeypatch.setattr(
        decisions, "generate_coupon_code", iter([generate_coupon_code()] + [taken] * 10).__next__
    )

    with pytest.raises(GrantError, match="unique coupon code"):
        approve_grants(
            grant_ids=[first.pk, second.pk], reviewer=reviewer, discount_percent=50, valid_days=3
        )

    assert set(
        Grant.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
    ) == {"pending"}


def test_after_a_failed_batch_approving_again_approves_each_grant_once(
    reviewer, monkeypatch, django_capture_on_commit_callbacks
):
    taken = GrantFactory(approved=True).coupon_code
    first, second = GrantFactory(), GrantFactory()
    draws = iter([generate_coupon_code()] + [taken] * 5)
    monkeypatch.setattr(
        decisions, "generate_coupon_code", lambda: next(draws, None) or generate_coupon_code()
    )
    with pytest.raises(GrantError, match="unique coupon code"):
        approve_grants(
            grant_ids=[first.pk, second.pk], reviewer=reviewer, discount_percent=50, valid_days=3
        )

    # The batch is simply run again (on SQL it rolled back; without transactions the first
    # approval stayed, whole): each grant ends approved once, with its own code and one e-mail.
    _approve([first, second], reviewer, capture=django_capture_on_commit_callbacks)

    grants = Grant.objects.filter(pk__in=[first.pk, second.pk])
    assert {grant.status for grant in grants} == {"approved"}
    assert len({grant.coupon_code for grant in grants} | {taken}) == 3
    for grant in (first, second):
        assert outbox.find(emails.decision_key(grant.pk)) is not None
    assert len(mail.outbox) == 2


def test_rejecting_records_the_reviewer_appends_the_note_and_sends_a_polite_notice(
    reviewer, django_capture_on_commit_callbacks
):
    grant = GrantFactory(admin_notes="Called the applicant on Monday.", name="Grace")

    with django_capture_on_commit_callbacks(execute=True):
        count = reject_grants(grant_ids=[grant.pk], reviewer=reviewer, note="  Budget is spent. ")

    assert count == 1
    grant.refresh_from_db()
    assert grant.status == Grant.Status.REJECTED
    assert grant.admin_notes == "Called the applicant on Monday.\n\nBudget is spent."
    assert (grant.reviewed_by, grant.coupon_code) == (reviewer, None)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [grant.email]
    assert message.subject == f"Your grant application for {grant.course.title}"
    assert "Hello Grace" in message.body
    assert "we cannot offer you a grant this time" in message.body
    assert "Budget is spent" not in message.body  # the note is internal


def test_rejecting_with_notes_empty_so_far_stores_just_the_note(reviewer):
    grant = GrantFactory()

    reject_grants(grant_ids=[grant.pk], reviewer=reviewer, note="Not eligible.")

    grant.refresh_from_db()
    assert grant.admin_notes == "Not eligible."


def test_rejecting_an_approved_grant_changes_nothing(reviewer, django_capture_on_commit_callbacks):
    grant = GrantFactory(approved=True)

    with django_capture_on_commit_callbacks(execute=True):
        count = reject_grants(grant_ids=[grant.pk], reviewer=reviewer, note="Oops")

    assert count == 0
    grant.refresh_from_db()
    assert (grant.status, grant.admin_notes) == ("approved", "")
    assert mail.outbox == []


# --- e-mails (through the outbox) ---------------------------------------------------------


def test_the_application_emails_queued_twice_are_sent_once_each(
    django_capture_on_commit_callbacks,
):
    grant = GrantFactory()

    with django_capture_on_commit_callbacks(execute=True):
        emails.queue_application_emails(grant)
        emails.queue_application_emails(grant)

    assert sorted(m.to[0] for m in mail.outbox) == [grant.email, "staff@maaledu.test"]
    for key in (emails.received_key(grant.pk), emails.staff_notice_key(grant.pk)):
        assert outbox.sent_at(key) is not None
        assert deliver_outbox_email.delay(key).get() is False  # a duplicated message
    assert len(mail.outbox) == 2


def test_the_decision_email_queued_twice_is_sent_once(django_capture_on_commit_callbacks):
    grant = GrantFactory(approved=True)

    with django_capture_on_commit_callbacks(execute=True):
        assert emails.queue_decision_email(grant.pk) is True
        assert emails.queue_decision_email(grant.pk) is False

    assert len(mail.outbox) == 1
    assert outbox.sent_at(emails.decision_key(grant.pk)) is not None


def test_no_decision_email_for_a_grant_still_pending():
    grant = GrantFactory()

    assert emails.queue_decision_email(grant.pk) is False

    assert outbox.find(emails.decision_key(grant.pk)) is None
    assert mail.outbox == []


def test_no_email_for_a_grant_that_does_not_exist():
    gone = GrantFactory()
    gone.delete()

    assert emails.queue_decision_email(gone.pk) is False
    assert mail.outbox == []


def test_a_failed_send_is_retried_by_the_outbox(settings, django_capture_on_commit_callbacks):
    grant = GrantFactory()
    settings.EMAIL_BACKEND = REFUSING_BACKEND

    with django_capture_on_commit_callbacks(execute=True):
        emails.queue_application_emails(grant)
    received = outbox.find(emails.received_key(grant.pk))
    assert (received.status, received.attempts) == ("pending", 1)
    assert mail.outbox == []

    settings.EMAIL_BACKEND = WORKING_BACKEND
    assert outbox.sweep(now=timezone.now() + timedelta(minutes=5)) == 2
    assert sorted(m.to[0] for m in mail.outbox) == [grant.email, "staff@maaledu.test"]


def test_the_staff_notice_is_skipped_when_no_staff_address_is_configured(settings):
    settings.STAFF_NOTIFICATION_EMAILS = []
    grant = GrantFactory()

    emails.queue_application_emails(grant)

    assert outbox.find(emails.staff_notice_key(grant.pk)) is None
    assert outbox.find(emails.received_key(grant.pk)) is not None
