"""The grant e-mails (called by ``grants.tasks``)."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from common.mail import send_templated_email
from common.money import format_money
from common.queue import enqueue

from .. import selectors, tasks
from ..coupons import coupon_price_cents
from ..models import Grant

logger = logging.getLogger(__name__)


def send_application_received_email(*, grant_id: int) -> bool:
    """Confirm receipt to the applicant. Sends at most once; False if already sent."""
    return _send_once(
        grant_id=grant_id,
        sent_field="received_email_sent_at",
        compose=lambda grant: ([grant.email], "grant_received", {"grant": grant}),
    )


def send_staff_notice(*, grant_id: int) -> bool:
    """Tell staff (``STAFF_NOTIFICATION_EMAILS``) a new application awaits review. At most once."""
    recipients = list(settings.STAFF_NOTIFICATION_EMAILS)
    if not recipients:
        return False
    return _send_once(
        grant_id=grant_id,
        sent_field="staff_notified_at",
        compose=lambda grant: (recipients, "grant_staff_notice", {"grant": grant}),
    )


def send_decision_email(*, grant_id: int) -> bool:
    """E-mail the applicant the approval (with the coupon) or the rejection. At most once."""
    return _send_once(
        grant_id=grant_id,
        sent_field="decision_email_sent_at",
        only_if=Q(status__in=[Grant.Status.APPROVED, Grant.Status.REJECTED]),
        compose=_compose_decision,
    )


# A message younger than this may still be on its way; older, it was lost (Redis down).
RESEND_AFTER = timedelta(minutes=5)
# Owed e-mails older than this are not sent any more: a late "we received your application"
# weeks after the fact helps nobody.
RESEND_WITHIN = timedelta(days=7)


def resend_unsent_emails(*, now: datetime | None = None) -> int:
    """Enqueue again every grant e-mail still owed whose message was lost; return how many.

    The ``*_sent_at`` columns are the truth (each send claims its own), so an e-mail enqueued
    here and by its original message as well is still sent once. Beat runs it every 10 minutes.
    """
    now = now or timezone.now()
    recent = Grant.objects.filter(
        created_at__lt=now - RESEND_AFTER, created_at__gte=now - RESEND_WITHIN
    )
    pending = recent.filter(status=Grant.Status.PENDING)
    owed = [(tasks.send_grant_received_email, pending.filter(received_email_sent_at=None))]
    if settings.STAFF_NOTIFICATION_EMAILS:
        owed.append((tasks.send_grant_staff_notice, pending.filter(staff_notified_at=None)))
    decided = Grant.objects.filter(
        status__in=[Grant.Status.APPROVED, Grant.Status.REJECTED],
        decision_email_sent_at=None,
        reviewed_at__lt=now - RESEND_AFTER,
        reviewed_at__gte=now - RESEND_WITHIN,
    )
    owed.append((tasks.send_grant_decision_email, decided))
    enqueued = 0
    for task, grants in owed:
        for grant_id in grants.values_list("pk", flat=True)[:200]:
            enqueued += enqueue(task, grant_id)
    if enqueued:
        logger.warning("event=grant.emails_resent count=%s", enqueued)
    return enqueued


def _compose_decision(grant: Grant) -> tuple[list[str], str, dict]:
    if grant.status == Grant.Status.REJECTED:
        return [grant.email], "grant_rejected", {"grant": grant}
    course = grant.course
    price_cents = coupon_price_cents(
        price_cents=course.price_cents, discount_percent=grant.discount_percent
    )
    # The checkout page lives in enrollments; grants names its route, never imports it.
    checkout_path = reverse("enrollments:checkout", args=[course.slug])
    checkout_url = f"{settings.SITE_URL}{checkout_path}?" + urlencode({"coupon": grant.coupon_code})
    context = {
        "grant": grant,
        "list_price": course.price_display,
        "you_pay": format_money(price_cents, course.currency),
        "checkout_url": checkout_url,
    }
    return [grant.email], "grant_approved", context


def _send_once(
    *,
    grant_id: int,
    sent_field: str,
    compose: Callable[[Grant], tuple[list[str], str, dict]],
    only_if: Q | None = None,
) -> bool:
    claimed_at = timezone.now()
    claimed = Grant.objects.filter(
        only_if or Q(), pk=grant_id, **{f"{sent_field}__isnull": True}
    ).update(**{sent_field: claimed_at})
    if claimed != 1:
        return False
    grant = selectors.grant_with_course(grant_id)
    to, template, context = compose(grant)
    try:
        send_templated_email(to=to, template=template, context=context)
    except Exception:
        # Give the claim back so the task's retry sends it.
        Grant.objects.filter(pk=grant_id, **{sent_field: claimed_at}).update(**{sent_field: None})
        raise
    logger.info("event=grant.email_sent grant_id=%s template=%s", grant_id, template)
    return True
