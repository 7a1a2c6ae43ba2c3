"""Three-way reconciliation against the local fake Stripe and fake Frappe, with seeded drift."""

from io import StringIO

import pytest
import requests
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from affiliates.models import Commission
from affiliates.tests.factories import AffiliateFactory
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from enrollments.tests.conftest import post_event
from fakes.frappe_server import FakeFrappe
from fakes.stripe_server import FakeStripe
from lms_sync import services as lms_services
from lms_sync.tests.factories import add_job, enrol_job_of, job_of
from ops.models import Incident, ReconciliationRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe(settings):
    with FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url
        yield fake


@pytest.fixture
def frappe(settings):
    with FakeFrappe(api_key="key", api_secret="secret", site="lms.test") as fake:
        settings.FRAPPE_URL, settings.FRAPPE_HOST_HEADER = fake.url, fake.site
        settings.FRAPPE_API_KEY, settings.FRAPPE_API_SECRET = "key", "secret"
        yield fake


def checkout(client, course, email, affiliate=None):
    if affiliate is not None:
        client.cookies.clear()
        client.get(course.get_absolute_url(), {"ref": affiliate.referral_code})
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": email})
    return Enrollment.objects.get(course=course, email=email)


def pay(client, stripe, enrollment, *, deliver=True):
    stripe.complete_session(enrollment.stripe_session_id)
    if deliver:
        post_event(client, stripe.event_for_session(enrollment.stripe_session_id))
    enrollment.refresh_from_db()
    return enrollment


def refund_in_stripe(stripe, enrollment, amount=None):
    data = {"payment_intent": enrollment.stripe_payment_intent_id}
    if amount:
        data["amount"] = amount
    requests.post(
        f"{stripe.url}/v1/refunds",
        data=data,
        timeout=5,
        headers={"Authorization": "Bearer sk_test_maaledu"},
    ).raise_for_status()


def reconcile(dry_run=False):
    out = StringIO()
    args = ["reconcile", "--since", "7d"] + (["--dry-run"] if dry_run else [])
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def drift(client, stripe, frappe, redis_down):
    """One case of every kind of drift, seeded through the real flows and then broken. The
    broker is down while seeding, so the payments' after-commit tasks are lost (as on SQL, where
    the test transaction never commits; on MongoDB they would run at once and sync the LMS)."""
    course = CourseFactory(price_cents=10000, frappe_course="intro-to-django")
    frappe.add_course("intro-to-django")
    affiliate = AffiliateFactory(rate_percent=10)
    cases = {}
    # Paid at Stripe, webhook lost.
    cases["missed"] = pay(
        client, stripe, checkout(client, course, "missed@example.com"), deliver=False
    )
    # Refunded in Stripe's dashboard, refund webhook lost (referred, so its commission too).
    refunded = pay(client, stripe, checkout(client, course, "refund@example.com", affiliate))
    refund_in_stripe(stripe, refunded)
    cases["refund"] = refunded
    # Referred sale whose commission row is missing.
    no_commission = pay(client, stripe, checkout(client, course, "nocomm@example.com", affiliate))
    Commission.objects.filter(sale_id=no_commission.pk).delete()
    cases["no_commission"] = no_commission
    # Synced here, missing in the LMS.
    synced = pay(client, stripe, checkout(client, course, "synced@example.com"))
    add_job(synced, status="synced")
    cases["lms_missing"] = synced
    # Refunded here (and synced as unenrolled), still enrolled in the LMS.
    gone = pay(client, stripe, checkout(client, course, "gone@example.com"))
    Enrollment.objects.filter(pk=gone.pk).update(status="refunded", amount_refunded_cents=10000)
    add_job(gone, action="unenrol", status="synced")
    frappe.add_enrollment("gone@example.com", "intro-to-django")
    cases["lms_still"] = gone
    # Needs a human: an LMS enrollment we never sold, to a learner of ours.
    frappe.add_course("other-course")
    frappe.add_enrollment("synced@example.com", "other-course")
    # Needs a human: a paid session we never created.
    foreign = requests.post(
        f"{stripe.url}/v1/checkout/sessions",
        headers={"Authorization": "Bearer sk_test_maaledu"},
        data={
            "mode": "payment",
            "success_url": "https://x.test/s",
            "cancel_url": "https://x.test/c",
            "line_items[0][quantity]": 1,
            "line_items[0][price_data][currency]": "usd",
            "line_items[0][price_data][unit_amount]": 500,
            "line_items[0][price_data][product_data][name]": "Not ours",
        },
        timeout=5,
    ).json()
    stripe.complete_session(foreign["id"])
    redis_down.end()
    return cases


def test_every_kind_of_drift_is_repaired_or_reported_and_a_second_run_finds_nothing_to_repair(
    drift, frappe, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        output = reconcile()

    run = ReconciliationRun.objects.get()
    assert run.counts == {
        "commission_missing": 1,
        "commission_not_reversed": 1,
        "lms_missing": 1,
        "lms_still_enrolled": 1,
        "lms_unsold": 1,
        "missed_fulfilment": 1,
        "missed_refund": 1,
        "unknown_session": 1,
    }
    assert run.unrepaired == 2  # lms_unsold and unknown_session need a human
    assert "NEEDS A HUMAN" in output
    reload = {name: Enrollment.objects.get(pk=e.pk) for name, e in drift.items()}
    assert reload["missed"].status == "paid"
    assert (reload["refund"].status, reload["refund"].amount_refunded_cents) == ("refunded", 10000)
    assert Commission.objects.get(sale_id=drift["refund"].pk).status == "reversed"
    assert Commission.objects.filter(sale_id=drift["no_commission"].pk).exists()
    # lms_sync requeued both jobs, and (tasks run in-process here) ran them: the LMS agrees again.
    assert job_of(reload["lms_missing"]).attempts == job_of(reload["lms_still"]).attempts == 1
    in_lms = {(e["member"], e["course"]) for e in frappe.enrollments.values()}
    assert ("synced@example.com", "intro-to-django") in in_lms
    assert ("gone@example.com", "intro-to-django") not in in_lms
    incident = Incident.objects.get(kind=Incident.Kind.RECONCILIATION_DRIFT)
    assert incident.resolved_at is None
    assert any("reconciliation" in m.body.lower() for m in mail.outbox)

    second = reconcile()

    run2 = ReconciliationRun.objects.order_by("-pk").first()
    repairable = {k for k in run2.counts if k not in ("lms_unsold", "unknown_session")}
    assert repairable == set(), second
    assert Incident.objects.filter(kind=Incident.Kind.RECONCILIATION_DRIFT).count() == 1


def test_a_learner_suspended_by_a_dispute_but_enrolled_in_the_lms_is_suspended_again(
    client, stripe, frappe, redis_down
):
    course = CourseFactory(price_cents=10000, frappe_course="intro-to-django")
    frappe.add_course("intro-to-django")
    disputed = pay(client, stripe, checkout(client, course, "disputed@example.com"))
    Enrollment.objects.filter(pk=disputed.pk).update(dispute_status="open")
    add_job(disputed, action="suspend", status="synced", progress=30.0)
    frappe.add_enrollment("disputed@example.com", "intro-to-django", progress=55.0)  # re-added

    reconcile()  # the broker is still down: the requeued job waits for the test to run it

    assert ReconciliationRun.objects.get().counts == {"lms_still_enrolled": 1}
    job = job_of(disputed)
    assert (job.action, job.status) == ("suspend", "pending")
    assert lms_services.run_job(job_id=job.pk) == lms_services.SYNCED
    assert frappe.enrollments == {}
    assert enrol_job_of(disputed).progress == 55.0  # saved again before the removal


@pytest.mark.parametrize(
    ("break_it", "kind", "says"),
    [
        ("host", "lms_refused", "has no Frappe site 'other.localhost'"),
        ("secret", "lms_refused", "Frappe refused the credentials"),
        ("down", "lms_unreachable", "Could not reach Frappe at"),
    ],
)
def test_an_lms_that_cannot_be_compared_is_reported_with_what_failed(
    client, stripe, frappe, settings, break_it, kind, says
):
    course = CourseFactory(price_cents=10000, frappe_course="intro-to-django")
    frappe.add_course("intro-to-django")
    pay(client, stripe, checkout(client, course, "ada@example.com"))
    if break_it == "host":
        settings.FRAPPE_HOST_HEADER = "other.localhost"
    elif break_it == "secret":
        settings.FRAPPE_API_SECRET = "wrong"
    else:
        frappe.down = True

    output = reconcile(dry_run=True)

    assert ReconciliationRun.objects.get().counts == {kind: 1}
    assert says in output


def test_dry_run_reports_the_drift_and_writes_nothing(drift):
    before = {
        e.pk: (e.status, e.amount_refunded_cents, getattr(job_of(e), "status", None))
        for e in Enrollment.objects.all()
    }
    commissions = Commission.objects.count()

    output = reconcile(dry_run=True)

    after = {
        e.pk: (e.status, e.amount_refunded_cents, getattr(job_of(e), "status", None))
        for e in Enrollment.objects.all()
    }
    assert after == before
    assert Commission.objects.count() == commissions
    assert "would repair" in output and "dry run: nothing written" in output
    assert not Incident.objects.exists()


def test_a_clean_system_reports_no_drift(client, stripe, frappe, redis_down):
    course = CourseFactory(frappe_course="intro-to-django")
    frappe.add_course("intro-to-django")
    enrollment = pay(client, stripe, checkout(client, course, "fine@example.com"))
    redis_down.end()  # the payment's tasks were lost; the job is seeded below
    frappe.add_enrollment("fine@example.com", "intro-to-django")
    add_job(enrollment, status="synced", synced_at=timezone.now())

    output = reconcile()

    assert ReconciliationRun.objects.get().counts == {}
    assert "0 finding(s)" in output


def test_the_ops_page_shows_the_last_run(client, drift):
    from accounts.tests.factories import StaffFactory

    reconcile()
    client.force_login(StaffFactory())

    page = client.get("/admin/ops/")

    assert "Last reconciliation" in page.text and "need a human" in page.text
    assert "unknown_session" in page.text


def test_a_lost_second_partial_refund_is_found_from_stripes_total(client, stripe):
    course = CourseFactory(price_cents=10000)
    enrollment = pay(client, stripe, checkout(client, course, "two@example.com"))
    refund_in_stripe(stripe, enrollment, 1000)
    charge = stripe.payment_intents[enrollment.stripe_payment_intent_id]["latest_charge"]
    post_event(client, stripe.event_for_charge(charge))  # the first refund's event arrived
    refund_in_stripe(stripe, enrollment, 1500)  # the second's was lost

    reconcile()

    enrollment.refresh_from_db()
    assert enrollment.amount_refunded_cents == 2500
    assert ReconciliationRun.objects.get().counts == {"missed_refund": 1}


def test_a_suspended_affiliates_sale_without_commission_is_not_drift(client, stripe):
    from affiliates.models import Affiliate

    course = CourseFactory(price_cents=10000)
    affiliate = AffiliateFactory()
    enrollment = checkout(client, course, "late@example.com", affiliate)
    Affiliate.objects.filter(pk=affiliate.pk).update(status=Affiliate.Status.SUSPENDED)
    pay(client, stripe, enrollment)

    reconcile()

    assert not Commission.objects.exists()
    assert ReconciliationRun.objects.get().counts == {}


def test_a_settled_bank_payment_whose_event_was_lost_is_fulfilled(client, stripe):
    from datetime import timedelta

    course = CourseFactory(price_cents=10000)
    enrollment = checkout(client, course, "ach@example.com")
    stripe.complete_session(enrollment.stripe_session_id, payment_status="unpaid")
    post_event(client, stripe.event_for_session(enrollment.stripe_session_id))
    stripe.complete_session(enrollment.stripe_session_id, payment_status="paid")  # settles...
    Enrollment.objects.filter(pk=enrollment.pk).update(  # ...days later; that event is lost
        created_at=timezone.now() - timedelta(days=3)
    )

    # A window that starts after the checkout: only the delayed-payment check can find it.
    from ops.reconciliation import reconcile as reconcile_since

    reconcile_since(since=timezone.now() + timedelta(minutes=1))

    enrollment.refresh_from_db()
    assert enrollment.status == "paid"
    assert ReconciliationRun.objects.get().counts == {"missed_fulfilment": 1}
