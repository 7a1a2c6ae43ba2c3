"""What ``ops`` hears from the apps below it (they never import ops). Connected in
``OpsConfig.ready()``."""

from django.dispatch import receiver
from django.utils import timezone

from enrollments.signals import payment_needs_review

from . import alerts
from .models import Incident


@receiver(payment_needs_review, dispatch_uid="ops.payment_needs_review")
def open_payment_review_incident(sender, enrollment_id: int, **kwargs) -> None:
    """Staff hear at once, not at the next 5-minute check: the learner has paid and waits.
    The incident is opened once (one open per kind) and e-mailed once."""
    alerts.run_check(Incident.Kind.PAYMENT_REVIEW, now=timezone.now())
