"""Alert checks, run every five minutes by ``ops.tasks.check_alerts``: each one e-mails staff once
per incident, and again when it clears.

A check looks at the database and says whether its condition holds. When it does, an
``Incident`` row is inserted; the partial unique constraint on open incidents turns every later
run's insert into an ``IntegrityError``, which means "already open, already e-mailed". When the
condition clears, one conditional UPDATE resolves the open row; whoever's update moves it queues
the "resolved" e-mail. Each e-mail is queued in the outbox (``common.outbox``) in the
transaction of its insert or update, keyed by incident, so two runs at once send it once.

What each alert means and what to do: docs/runbook.md.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from common import outbox
from common.logging import mask_emails
from common.transactions import atomic
from enrollments.models import Enrollment, StripeEvent
from lms_sync import selectors as lms_selectors

from .models import Incident

logger = logging.getLogger(__name__)

Kind = Incident.Kind

WEBHOOK_SILENCE = timedelta(hours=24)
# Stripe sends checkout.session.expired when a session's time is up; after that long plus this
# margin, a checkout that started must have produced an event.
WEBHOOK_GRACE = timedelta(minutes=15)
DETAIL_EXAMPLES = 5

OPENED, STILL_OPEN, RESOLVED, QUIET = "opened", "still_open", "resolved", "quiet"


@dataclass(frozen=True)
class Finding:
    firing: bool
    detail: str = ""


def _ago(now: datetime, then: datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def lms_failures(now: datetime) -> Finding:
    """ALERT_LMS_FAILED_PER_HOUR or more LMS sync jobs failed within the last hour."""
    threshold = settings.ALERT_LMS_FAILED_PER_HOUR
    recent = lms_selectors.recent_failures(since=now - timedelta(hours=1))
    count = recent.count()
    if count < threshold:
        return Finding(False)
    examples = recent.values_list("enrollment_id", "last_error")
    lines = [
        f"enrollment {pk}: {mask_emails(error)[:200] or 'no error recorded'}"
        for pk, error in examples[:DETAIL_EXAMPLES]
    ]
    return Finding(
        True,
        f"{count} LMS sync job(s) failed in the last hour (threshold {threshold}). Latest:\n"
        + "\n".join(lines),
    )


def lms_overdue(now: datetime) -> Finding:
    """Paid enrollments still not enrolled in the LMS ALERT_LMS_PENDING_MINUTES after payment."""
    summary = lms_selectors.overdue_summary(now=now)
    if not summary["total"]:
        return Finding(False)
    detail = (
        f"{summary['total']} paid enrollment(s) not enrolled in the LMS "
        f"{settings.ALERT_LMS_PENDING_MINUTES} minutes after payment; the oldest was paid "
        f"{_ago(now, summary['oldest'])} ago."
    )
    if summary["waiting_config"]:
        detail += (
            f" {summary['waiting_config']} of them wait for the LMS configuration (FRAPPE_* "
            "settings, or credentials Frappe refused)."
        )
    return Finding(True, detail)


def stripe_event_failures(now: datetime) -> Finding:
    """A verified Stripe event raised in its handler and has not been reprocessed since."""
    failed = StripeEvent.objects.filter(outcome=StripeEvent.Outcome.FAILED)
    examples = list(
        failed.order_by("-received_at", "-pk").values_list("event_id", "type", "error")[
            : DETAIL_EXAMPLES + 1
        ]
    )
    if not examples:
        return Finding(False)
    count = len(examples) if len(examples) <= DETAIL_EXAMPLES else failed.count()
    lines = [
        f"{event_id} ({event_type}): {mask_emails(error)[:200]}"
        for event_id, event_type, error in examples[:DETAIL_EXAMPLES]
    ]
    return Finding(True, f"{count} Stripe event(s) failed processing. Latest:\n" + "\n".join(lines))


def webhooks_silent(now: datetime) -> Finding:
    """Checkouts went to Stripe in the last day, but no webhook event arrived in that day."""
    due_by = now - timedelta(minutes=settings.CHECKOUT_SESSION_MINUTES) - WEBHOOK_GRACE
    started = Enrollment.objects.filter(
        stripe_session_id__isnull=False,
        created_at__gte=now - WEBHOOK_SILENCE,
        created_at__lt=due_by,
    ).count()
    if not started:
        return Finding(False)
    if StripeEvent.objects.filter(received_at__gte=now - WEBHOOK_SILENCE).exists():
        return Finding(False)
    return Finding(
        True,
        f"{started} checkout(s) went to Stripe in the last 24 hours and should have produced a "
        "webhook event by now, but no Stripe event arrived in 24 hours.",
    )


def payments_awaiting_review(now: datetime) -> Finding:
    """A learner paid, but the payment was flagged instead of fulfilled (an amount or currency
    other than asked, a second payment for a course they own): they wait for staff."""
    waiting = Enrollment.objects.filter(
        needs_review=True, dispute_status=Enrollment.Dispute.NONE
    ).exclude(status__in=[Enrollment.Status.PAID, Enrollment.Status.REFUNDED])
    examples = list(
        waiting.order_by("-updated_at", "-pk").values_list("pk", "review_reason")[
            : DETAIL_EXAMPLES + 1
        ]
    )
    if not examples:
        return Finding(False)
    count = len(examples) if len(examples) <= DETAIL_EXAMPLES else waiting.count()
    lines = [f"enrollment {pk}: {mask_emails(reason)[:200]}" for pk, reason in examples]
    return Finding(
        True,
        f"{count} paid checkout(s) wait for staff review; the learners were told staff are "
        "checking their payment. Latest:\n" + "\n".join(lines[:DETAIL_EXAMPLES]),
    )


CHECKS: dict[str, Callable[[datetime], Finding]] = {
    Kind.LMS_FAILURES: lms_failures,
    Kind.LMS_OVERDUE: lms_overdue,
    Kind.STRIPE_EVENT_FAILED: stripe_event_failures,
    Kind.WEBHOOKS_SILENT: webhooks_silent,
    Kind.PAYMENT_REVIEW: payments_awaiting_review,
}


def check_alerts(*, now: datetime | None = None) -> dict[str, str]:
    """Run every check; open or resolve incidents. Returns what happened per kind."""
    now = now or timezone.now()
    return {kind: run_check(kind, now=now) for kind in CHECKS}


def run_check(kind: str, *, now: datetime) -> str:
    """One check: open its incident (e-mailing staff once) or resolve it."""
    finding = CHECKS[kind](now)
    if finding.firing:
        return open_incident(kind=kind, detail=finding.detail, now=now)
    return resolve_incident(kind=kind, now=now)


def open_incident(*, kind: str, detail: str, now: datetime, key: str = "") -> str:
    try:
        with atomic():
            incident = Incident.objects.create(
                kind=kind, key=key, opened_at=now, last_detail=detail
            )
            _queue_email(incident, OPENED_EMAIL)
    except IntegrityError:
        Incident.objects.filter(kind=kind, key=key, is_open=True).exclude(
            last_detail=detail
        ).update(last_detail=detail)
        return STILL_OPEN
    logger.warning("event=incident.opened incident_id=%s kind=%s key=%s", incident.pk, kind, key)
    return OPENED


def resolve_incident(*, kind: str, now: datetime, key: str = "") -> str:
    incident_id = (
        Incident.objects.filter(kind=kind, key=key, is_open=True)
        .values_list("pk", flat=True)
        .first()
    )
    if incident_id is None:
        return QUIET
    with atomic():
        resolved = Incident.objects.filter(pk=incident_id, is_open=True).update(
            resolved_at=now, is_open=False
        )
        if not resolved:
            return QUIET  # another run resolved it a moment ago
        # An incident that cleared before anyone was told is not worth two e-mails after the
        # fact (it stays in the admin's incident list): its "opened" e-mail is withdrawn if no
        # worker has taken it yet, and then there is no "resolved" one either.
        if not outbox.cancel(email_key(incident_id, OPENED_EMAIL)):
            _queue_email(Incident.objects.get(pk=incident_id), RESOLVED_EMAIL)
    logger.info("event=incident.resolved incident_id=%s kind=%s", incident_id, kind)
    return RESOLVED


OPENED_EMAIL, RESOLVED_EMAIL = "ops_incident_opened", "ops_incident_resolved"


def email_key(incident_id: int, template: str) -> str:
    """``incident-opened:<pk>`` or ``incident-resolved:<pk>``: each owed once (outbox)."""
    return f"incident-{template.rpartition('_')[2]}:{incident_id}"


def _queue_email(incident: Incident, template: str) -> bool:
    """Owe staff the e-mail ``template`` about ``incident`` (``common.outbox``), in the
    transaction that opened or resolved it."""
    return outbox.enqueue_email(
        key=email_key(incident.pk, template),
        to=list(settings.STAFF_NOTIFICATION_EMAILS),
        template=template,
        context={"incident": incident, "ops_url": settings.SITE_URL + reverse("ops:dashboard")},
    )
