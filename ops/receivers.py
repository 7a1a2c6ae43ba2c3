"""What ``ops`` hears from the apps below it (they never import ops). Connected in
``OpsConfig.ready()``."""

from django.dispatch import receiver
from django.utils import timezone

from enrollments.signals import payment_needs_review
from lms_sync import signals as lms_signals

from . import alerts, selectors
from .models import Incident


@receiver(payment_needs_review, dispatch_uid="ops.payment_needs_review")
def open_payment_review_incident(sender, enrollment_id: int, **kwargs) -> None:
    """Staff hear at once, not at the next 5-minute check: the learner has paid and waits.
    The incident is opened once (one open per kind) and e-mailed once."""
    alerts.run_check(Incident.Kind.PAYMENT_REVIEW, now=timezone.now())


# lms_sync's reasons, as incident kinds (one incident per kind and key, one notifier).
LMS_KINDS = {
    lms_signals.CONFIG: Incident.Kind.LMS_CONFIG,
    lms_signals.MAPPING: Incident.Kind.LMS_MAPPING,
    lms_signals.GAVE_UP: Incident.Kind.LMS_GAVE_UP,
}


@receiver(lms_signals.lms_sync_failing, dispatch_uid="ops.lms_sync_failing")
def open_lms_incident(sender, reason: str, key: str, detail: str, **kwargs) -> None:
    """LMS sync needs a human: one incident per (kind, key), e-mailed once."""
    alerts.open_incident(kind=LMS_KINDS[reason], key=key, detail=detail, now=timezone.now())


@receiver(lms_signals.lms_sync_recovered, dispatch_uid="ops.lms_sync_recovered")
def resolve_lms_incidents(sender, course_id: int, **kwargs) -> None:
    """A job synced: Frappe answers and this course maps, so those incidents are over. The
    common case (nothing open) is one read."""
    open_keys = {
        (Incident.Kind.LMS_CONFIG, lms_signals.SITE_KEY),
        (Incident.Kind.LMS_GAVE_UP, lms_signals.SITE_KEY),
        (Incident.Kind.LMS_MAPPING, lms_signals.course_key(course_id)),
    }
    now = timezone.now()
    for kind, key in selectors.open_incident_keys(kinds=list(LMS_KINDS.values())):
        if (kind, key) in open_keys:
            alerts.resolve_incident(kind=kind, key=key, now=now)
