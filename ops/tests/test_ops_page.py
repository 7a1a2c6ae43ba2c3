from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import StaffFactory, UserFactory
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment, StripeEvent
from enrollments.tests.conftest import fixture_event
from enrollments.tests.factories import EnrollmentFactory
from lms_sync.models import LmsSyncJob
from lms_sync.tests.factories import enrollment_with_job, job_of
from ops.models import Incident
from ops.selectors import LIST_LIMIT

pytestmark = pytest.mark.django_db

LmsStatus = LmsSyncJob.Status
SESSION_A = "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY"


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


def failed_job(**fields) -> Enrollment:
    return enrollment_with_job(
        status=Enrollment.Status.PAID,
        paid_at=timezone.now() - timedelta(hours=2),
        lms_status=LmsStatus.FAILED,
        lms_attempts=25,
        lms_last_error="Frappe: course not found",
        **fields,
    )


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Access ------------------------------------------------------------------------------------


@pytest.mark.parametrize("user_factory", [None, UserFactory])
def test_anonymous_visitors_and_learners_are_sent_to_the_admin_login(client, user_factory):
    if user_factory:
        client.force_login(user_factory())

    response = client.get("/admin/ops/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/ops/"


def test_learners_cannot_press_the_buttons(client):
    job = failed_job()
    client.force_login(UserFactory())

    response = client.post("/admin/ops/lms/retry/", {"job_id": [job_of(job).pk]})

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    job.refresh_from_db()
    assert job_of(job).status == LmsStatus.FAILED


def test_staff_without_the_change_permission_see_the_page_but_cannot_act(client):
    job = failed_job()
    event = StripeEvent.objects.create(
        event_id="evt_f", type="charge.refunded", payload={}, outcome="failed"
    )
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_enrollment"))
    client.force_login(viewer)

    page = client.get("/admin/ops/")
    retry = client.post("/admin/ops/lms/retry/", {"job_id": [job_of(job).pk]})
    reprocess = client.post("/admin/ops/stripe-events/reprocess/", {"event_id": [event.pk]})

    assert page.status_code == 200
    assert b"Retry selected LMS syncs now" not in page.content
    assert (retry.status_code, reprocess.status_code) == (403, 403)
    job.refresh_from_db()
    assert job_of(job).status == LmsStatus.FAILED


def test_the_buttons_need_a_csrf_token():
    job = failed_job()
    client = Client(enforce_csrf_checks=True)
    client.force_login(StaffFactory())

    response = client.post("/admin/ops/lms/retry/", {"job_id": [job_of(job).pk]})

    assert response.status_code == 403
    job.refresh_from_db()
    assert job_of(job).status == LmsStatus.FAILED


def test_the_buttons_only_take_posts(staff_client):
    assert staff_client.get("/admin/ops/lms/retry/").status_code == 405
    assert staff_client.get("/admin/ops/stripe-events/reprocess/").status_code == 405


# --- What the page shows -----------------------------------------------------------------------


def test_the_page_lists_what_needs_staff_in_the_admin_layout(staff_client, settings):
    settings.ALERT_LMS_PENDING_MINUTES = 30
    now = timezone.now()
    course = CourseFactory(title="Kubernetes Administrator", price_cents=25000)
    failed = failed_job(course=course, email="failed.learner@example.com")
    overdue = enrollment_with_job(
        course=course,
        status=Enrollment.Status.PAID,
        paid_at=now - timedelta(minutes=45),
        lms_status=LmsStatus.PENDING,
    )
    on_time = enrollment_with_job(
        course=course,
        status=Enrollment.Status.PAID,
        paid_at=now - timedelta(minutes=5),
        lms_status=LmsStatus.PENDING,
    )
    StripeEvent.objects.create(
        event_id="evt_failed", type="charge.refunded", payload={}, outcome="failed",
        error="ValueError: charge.amount_refunded missing",
    )  # fmt: skip
    StripeEvent.objects.create(event_id="evt_fresh", type="charge.refunded", payload={})
    stuck = StripeEvent.objects.create(event_id="evt_stuck", type="charge.refunded", payload={})
    StripeEvent.objects.filter(pk=stuck.pk).update(received_at=now - timedelta(minutes=20))
    EnrollmentFactory(
        course=course,
        needs_review=True,
        review_reason="Amount mismatch: Stripe reports 100 usd, expected 25000 usd.",
    )
    EnrollmentFactory(course=course, expires_at=now - timedelta(hours=2))
    EnrollmentFactory(course=course, currency="usd", status=Enrollment.Status.PAID, paid_at=now)
    Incident.objects.create(kind=Incident.Kind.WEBHOOKS_SILENT, last_detail="3 checkout(s) …")

    response = staff_client.get("/admin/ops/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "MaalEdu administration" in html  # the admin's header
    assert f'name="job_id" value="{job_of(failed).pk}"' in html
    assert f'name="job_id" value="{job_of(overdue).pk}"' in html
    assert f'name="job_id" value="{job_of(on_time).pk}"' not in html
    assert "f***@example.com" in html
    assert "failed.learner@example.com" not in html
    assert "evt_failed" in html and "evt_stuck" in html and "evt_fresh" not in html
    assert "Amount mismatch: Stripe reports 100 usd" in html
    assert "Pending checkouts past their expiry (1)" in html
    assert "No Stripe webhook while checkouts start" in html
    assert "$250.00" in html  # today's revenue


def test_the_page_loads_in_a_bounded_number_of_queries_with_a_long_backlog(
    staff_client, django_assert_max_num_queries
):
    rows = LIST_LIMIT + 10
    now = timezone.now()
    course = CourseFactory()
    for index in range(rows):
        failed_job(course=course)
        EnrollmentFactory(course=course, needs_review=True, review_reason="Dispute")
        EnrollmentFactory(course=course, expires_at=now - timedelta(hours=1))
        EnrollmentFactory(
            course=course,
            status=Enrollment.Status.PAID,
            paid_at=now,
            currency=["usd", "eur", "gbp"][index % 3],
        )
        StripeEvent.objects.create(
            event_id=f"evt_{index}", type="charge.refunded", payload={}, outcome="failed"
        )

    # Session, user, then a list and (as each is full) its count for each of the four lists,
    # today's two aggregates, the last 24 hours' two (LMS backlog and webhooks, for the
    # charts), open incidents (LMS ones included) and the last reconciliation run: 16. A new
    # section must justify its query.
    with django_assert_max_num_queries(16):
        response = staff_client.get("/admin/ops/")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('name="job_id"') == LIST_LIMIT
    assert html.count('name="event_id"') == LIST_LIMIT
    assert f"Showing the {LIST_LIMIT} oldest of {rows}." in html
    assert f"Showing the {LIST_LIMIT} newest of {rows}" in html


# --- Buttons -----------------------------------------------------------------------------------


def test_retry_makes_the_selected_failed_jobs_due_now_with_a_fresh_budget(staff_client, redis_down):
    """The retried job stays pending here: the broker is down, so the task that would start it
    at once is not run (on MongoDB after-commit work runs at once; there is no test
    transaction)."""
    selected = failed_job()
    other = failed_job()
    synced = enrollment_with_job(status=Enrollment.Status.PAID, lms_status=LmsStatus.SYNCED)

    response = staff_client.post(
        "/admin/ops/lms/retry/", {"job_id": [job_of(selected).pk, job_of(synced).pk, "junk"]}
    )

    assert response.status_code == 302 and response["Location"] == "/admin/ops/"
    selected, other, synced = job_of(selected), job_of(other), job_of(synced)
    assert selected.status == LmsStatus.PENDING
    assert selected.attempts == 0
    assert abs(selected.next_attempt_at - timezone.now()) < timedelta(seconds=30)
    assert other.status == LmsStatus.FAILED
    assert synced.status == LmsStatus.SYNCED
    assert message_texts(response) == [
        "1 LMS sync job(s) are due now and were started; refresh in a minute."
    ]


def test_retry_with_nothing_selected_says_so(staff_client):
    response = staff_client.post("/admin/ops/lms/retry/", {})

    assert message_texts(response) == ["Select the LMS sync jobs to retry."]


def test_reprocess_applies_a_failed_event_and_reports_one_that_fails_again(staff_client):
    enrollment = EnrollmentFactory(
        stripe_session_id=SESSION_A,
        list_price_cents=3000,
        amount_due_cents=3000,
        currency="usd",
        course__price_cents=3000,
    )
    completed = fixture_event("checkout.session.completed")
    fixable = StripeEvent.objects.create(
        event_id=completed["id"],
        type=completed["type"],
        payload=completed,
        outcome=StripeEvent.Outcome.FAILED,
        error="OperationalError: database restarted",
    )
    # A dispute on a payment we do not know: Stripe must be asked, and it cannot be reached.
    broken_payload = fixture_event("charge.dispute.created")
    broken = StripeEvent.objects.create(
        event_id="evt_broken", type=broken_payload["type"], payload=broken_payload, outcome="failed"
    )

    response = staff_client.post(
        "/admin/ops/stripe-events/reprocess/", {"event_id": [fixable.pk, broken.pk]}
    )

    fixable.refresh_from_db()
    broken.refresh_from_db()
    enrollment.refresh_from_db()
    assert (fixable.outcome, fixable.result) == (StripeEvent.Outcome.PROCESSED, "fulfilled")
    assert enrollment.status == Enrollment.Status.PAID
    assert broken.outcome == StripeEvent.Outcome.FAILED
    assert broken.attempts == 1
    assert message_texts(response) == [
        "Reprocessed 1 Stripe event(s).",
        "1 event(s) failed again: see their error below and the logs.",
    ]


def test_reprocess_leaves_events_already_processed_alone(staff_client):
    done = StripeEvent.objects.create(
        event_id="evt_done", type="charge.refunded", payload={}, outcome="processed", attempts=1
    )

    staff_client.post("/admin/ops/stripe-events/reprocess/", {"event_id": [done.pk]})

    done.refresh_from_db()
    assert done.attempts == 1


def test_the_incident_history_stays_in_the_admin_below_the_ops_page(staff_client):
    incident = Incident.objects.create(kind=Incident.Kind.LMS_OVERDUE, last_detail="2 waiting")

    changelist = staff_client.get("/admin/ops/incident/")
    change = staff_client.get(f"/admin/ops/incident/{incident.pk}/change/")

    assert changelist.status_code == 200
    assert b"Paid enrollments waiting for the LMS" in changelist.content
    assert change.status_code == 200
    assert staff_client.get("/admin/ops/incident/add/").status_code == 403
