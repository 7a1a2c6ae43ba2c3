"""Three-way reconciliation: Stripe, our enrollments and commissions, and Frappe LMS.

Run nightly (``ops.tasks.nightly_reconcile``) and by hand (``manage.py reconcile --since 7d``).
What is safe to repair is repaired through the same idempotent services as the live path:

- a paid Checkout Session whose enrollment is not paid → ``fulfil_checkout_session``;
- a Stripe refund we never recorded → ``apply_refund`` (the refund policy);
- a referred sale without its commission → ``record_commission``; a refunded sale whose
  commission was not reversed → ``reverse_commission``;
- a paid, synced enrollment missing in the LMS → its enrol job runs again; a refunded learner
  still enrolled in the LMS → an unenrol job.

What needs a human is reported, never guessed: amount mismatches, LMS enrollments we never sold,
Stripe sessions we know nothing about. ``dry_run`` reports what it would repair and writes
nothing. Each run is kept as a ``ReconciliationRun``; unrepaired drift opens an ops incident,
so staff are e-mailed once.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from affiliates import selectors as affiliate_selectors
from affiliates import services as affiliate_services
from affiliates.models import Affiliate, Commission
from common.logging import mask_email
from enrollments import selectors as enrollment_selectors
from enrollments import services as enrollment_services
from enrollments import stripe_gateway
from enrollments.models import Enrollment
from lms_sync import selectors as lms_selectors
from lms_sync import services as lms_services
from lms_sync.frappe import FrappeClient, LmsError, LmsTransientError

from .alerts import open_incident, resolve_incident
from .models import Incident, ReconciliationRun

logger = logging.getLogger(__name__)

Status = Enrollment.Status
# Bank (ACH/SEPA) payments take days; after this long we ask Stripe ourselves, and after the
# second delay a human looks.
DELAYED_PAYMENT_RECHECK = timedelta(days=1)
DELAYED_PAYMENT_GIVE_UP = timedelta(days=7)
REPAIRABLE = {
    "missed_fulfilment",
    "missed_refund",
    "commission_missing",
    "commission_not_reversed",
    "lms_missing",
    "lms_still_enrolled",
}


@dataclass
class Report:
    dry_run: bool
    items: list[dict] = field(default_factory=list)

    def add(self, kind: str, ref: str, detail: str, *, repaired: bool = False) -> None:
        self.items.append({"kind": kind, "ref": ref, "detail": detail, "repaired": repaired})

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for item in self.items:
            counts[item["kind"]] += 1
        return dict(sorted(counts.items()))

    @property
    def unrepaired(self) -> list[dict]:
        return [item for item in self.items if not item["repaired"]]


def reconcile(*, since: datetime, dry_run: bool = False) -> ReconciliationRun:
    run = ReconciliationRun.objects.create(since=since, dry_run=dry_run)
    report = Report(dry_run=dry_run)
    _check_stripe_sessions(report, since)
    _check_delayed_payments(report)
    _check_stripe_refunds(report, since)
    window = Enrollment.objects.filter(
        Q(created_at__gte=since) | Q(paid_at__gte=since) | Q(updated_at__gte=since),
        status__in=[Status.PAID, Status.REFUNDED],
    ).select_related("course", "affiliate")
    enrollments = list(window)
    _check_commissions(report, enrollments)
    _check_lms(report, enrollments)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        counts=report.counts,
        items=report.items[:1000],
        unrepaired=len(report.unrepaired),
    )
    run.refresh_from_db()
    if not dry_run:
        _alert(run)
    logger.info(
        "event=reconcile.finished run_id=%s dry_run=%s items=%s unrepaired=%s",
        run.pk,
        dry_run,
        len(report.items),
        run.unrepaired,
    )
    return run


def _alert(run: ReconciliationRun) -> None:
    now = timezone.now()
    if run.unrepaired:
        detail = ", ".join(
            f"{kind}: {count}" for kind, count in run.counts.items() if kind not in REPAIRABLE
        )
        open_incident(
            kind=Incident.Kind.RECONCILIATION_DRIFT,
            detail=f"Reconciliation run #{run.pk} needs a human: {detail}",
            now=now,
        )
    else:
        resolve_incident(kind=Incident.Kind.RECONCILIATION_DRIFT, now=now)


# --- Stripe ---------------------------------------------------------------------------------


def _check_stripe_sessions(report: Report, since: datetime) -> None:
    sessions = list(stripe_gateway.completed_checkout_sessions(created_since=since))
    ours = enrollment_selectors.enrollments_of_checkout_sessions(sessions)
    for session in sessions:
        enrollment = ours.get(session["id"])
        if enrollment is None:
            report.add(
                "unknown_session", session["id"], "A paid Checkout Session we never created."
            )
            continue
        paid = session.get("payment_status") in ("paid", "no_payment_required")
        if paid and session.get("amount_total") != enrollment.amount_due_cents:
            report.add(
                "amount_mismatch",
                f"enrollment {enrollment.pk}",
                f"Stripe {session.get('amount_total')} vs ours {enrollment.amount_due_cents}.",
            )
            continue
        if paid and enrollment.status not in (Status.PAID, Status.REFUNDED):
            repaired = False
            if not report.dry_run:
                outcome = enrollment_services.fulfil_checkout_session(session)
                repaired = outcome in (
                    enrollment_services.FULFILLED,
                    enrollment_services.ALREADY_FULFILLED,
                )
            report.add(
                "missed_fulfilment",
                f"enrollment {enrollment.pk}",
                "Paid at Stripe, not fulfilled here.",
                repaired=repaired,
            )


def _check_delayed_payments(report: Report) -> None:
    """Checkouts completed with a bank payment still unsettled after a day: ask Stripe again
    (the async event may have been lost); settled ones are fulfilled, week-old ones reported."""
    now = timezone.now()
    waiting = Enrollment.objects.filter(
        status=Status.PENDING,
        expires_at__isnull=True,
        stripe_session_id__isnull=False,
        created_at__lt=now - DELAYED_PAYMENT_RECHECK,
    )[:200]
    for enrollment in waiting:
        session = stripe_gateway.retrieve_checkout_session(enrollment.stripe_session_id)
        if session.get("payment_status") in ("paid", "no_payment_required"):
            repaired = False
            if not report.dry_run:
                outcome = enrollment_services.fulfil_checkout_session(session)
                repaired = outcome == enrollment_services.FULFILLED
            report.add(
                "missed_fulfilment",
                f"enrollment {enrollment.pk}",
                "The bank payment settled, but its event never arrived.",
                repaired=repaired,
            )
        elif enrollment.created_at < now - DELAYED_PAYMENT_GIVE_UP:
            report.add(
                "delayed_payment_unresolved",
                f"enrollment {enrollment.pk}",
                "A bank payment unsettled for over a week: check it in Stripe's dashboard.",
            )


def _check_stripe_refunds(report: Report, since: datetime) -> None:
    """Payments refunded in the window: compare Stripe's total on each with what we recorded
    (all of its refunds, including those made before the window)."""
    intents = {
        refund["payment_intent"]
        for refund in stripe_gateway.refunds_since(created_since=since)
        if refund.get("payment_intent")
    }
    for enrollment in Enrollment.objects.filter(stripe_payment_intent_id__in=sorted(intents)):
        stripe_total = stripe_gateway.refunded_total(enrollment.stripe_payment_intent_id)
        if stripe_total <= enrollment.amount_refunded_cents:
            continue
        if not report.dry_run:
            enrollment_services.apply_refund(
                enrollment_id=enrollment.pk, refunded_cents=stripe_total
            )
        report.add(
            "missed_refund",
            f"enrollment {enrollment.pk}",
            f"Stripe refunded {stripe_total}, we had {enrollment.amount_refunded_cents}.",
            repaired=not report.dry_run,
        )


# --- Commissions ----------------------------------------------------------------------------


def _check_commissions(report: Report, enrollments: list[Enrollment]) -> None:
    # Suspended affiliates earn nothing new (affiliates.services.record_commission), so a sale
    # of theirs without a commission is not drift.
    referred = [
        e
        for e in enrollments
        if e.affiliate_id
        and e.amount_due_cents > 0
        and e.affiliate.status == Affiliate.Status.ACTIVE
    ]
    commissions = {
        c.sale_id: c for c in Commission.objects.filter(sale_id__in=[e.pk for e in referred])
    }
    for enrollment in referred:
        commission = commissions.get(enrollment.pk)
        if commission is None:
            repaired = False
            if not report.dry_run:
                sold_at = enrollment.paid_at or enrollment.created_at
                commission = enrollment_services.record_commission_for(enrollment, sold_at=sold_at)
                repaired = commission is not None
            report.add(
                "commission_missing",
                f"enrollment {enrollment.pk}",
                "A referred sale without its commission.",
                repaired=repaired,
            )
            if commission is None:
                continue
        expected = affiliate_selectors.commission_reversal_for(
            commission,
            refunded_cents_total=enrollment.amount_refunded_cents,
            charged_cents=enrollment.amount_due_cents,
        ).target_cents
        if commission.reversed_cents < expected:
            if not report.dry_run:
                affiliate_services.reverse_commission(
                    sale_id=enrollment.pk,
                    refunded_cents_total=enrollment.amount_refunded_cents,
                    charged_cents=enrollment.amount_due_cents,
                )
            report.add(
                "commission_not_reversed",
                f"enrollment {enrollment.pk}",
                f"Reversed {commission.reversed_cents}, refund implies {expected}.",
                repaired=not report.dry_run,
            )


# --- Frappe LMS -----------------------------------------------------------------------------


def _check_lms(report: Report, enrollments: list[Enrollment]) -> None:
    try:
        client = FrappeClient.from_settings()
    except LmsError:
        return  # LMS not configured: nothing to compare with
    mapped = [e for e in enrollments if e.course.frappe_course]
    if not mapped:
        return
    try:
        in_lms = client.enrollments_of(members=sorted({e.email for e in mapped}))
    except LmsError as error:
        kind = "lms_unreachable" if isinstance(error, LmsTransientError) else "lms_refused"
        report.add(kind, "frappe", client.explain(error))
        return
    finally:
        client.close()
    sold = {(e.email, e.course.frappe_course) for e in mapped if e.status == Status.PAID}
    jobs = lms_selectors.current_jobs([e.pk for e in mapped])
    Action, JobStatus = lms_selectors.Action, lms_selectors.Status
    finished = (JobStatus.SYNCED, JobStatus.FAILED)
    for enrollment in mapped:
        pair = (enrollment.email, enrollment.course.frappe_course)
        action, job_status = jobs.get(enrollment.pk, ("", ""))
        if (
            enrollment.status == Status.PAID
            and enrollment.dispute_status != Enrollment.Dispute.OPEN
            and (action, job_status) == (Action.ENROL, JobStatus.SYNCED)
            and pair not in in_lms
        ):
            _requeue(
                report,
                enrollment,
                "lms_missing",
                Action.ENROL,
                "Synced here, but not enrolled in the LMS.",
            )
        elif (
            enrollment.status == Status.REFUNDED
            and job_status in finished
            and pair in in_lms
            and pair not in sold
        ):
            _requeue(
                report,
                enrollment,
                "lms_still_enrolled",
                Action.UNENROL,
                "Refunded here, still enrolled in the LMS.",
            )
        elif (
            enrollment.status == Status.PAID
            and enrollment.dispute_status == Enrollment.Dispute.OPEN
            and action == Action.SUSPEND
            and job_status in finished
            and pair in in_lms
        ):
            # The suspend job saves the learner's progress again before removing the enrolment.
            _requeue(
                report,
                enrollment,
                "lms_still_enrolled",
                Action.SUSPEND,
                "Access suspended here (dispute open), still enrolled in the LMS.",
            )
    learners = {e.email for e in mapped}
    for member, course in sorted(in_lms - sold):
        refunded = any(
            e.email == member and e.course.frappe_course == course
            for e in mapped
            if e.status == Status.REFUNDED
        )
        if member in learners and not refunded:
            report.add(
                "lms_unsold",
                f"{mask_email(member)} / {course}",
                "Enrolled in the LMS, but no paid enrollment here.",
            )


def _requeue(report: Report, enrollment: Enrollment, kind: str, action: str, detail: str):
    """Ask ``lms_sync`` to run the enrollment's finished job of ``action`` again (it owns the
    job; one conditional UPDATE there)."""
    repaired = False
    if not report.dry_run:
        repaired = lms_services.requeue(enrollment_id=enrollment.pk, action=action)
    report.add(kind, f"enrollment {enrollment.pk}", detail, repaired=repaired)
