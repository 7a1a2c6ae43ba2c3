import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from enrollments import services, stripe_gateway

_DURATION = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str) -> timedelta:
    match = _DURATION.match(value.strip())
    if not match:
        raise CommandError("--since takes a duration such as 30m, 48h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Fulfil completed Stripe Checkout Sessions whose webhook never arrived (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--since", default="48h", help="window, e.g. 30m, 48h, 7d")

    def handle(self, *args, since: str, **options):
        start = timezone.now() - parse_since(since)
        try:
            changed = services.reconcile_completed_sessions(since=start)
        except (stripe_gateway.GatewayError, stripe_gateway.PaymentsNotConfigured) as error:
            raise CommandError(f"Stripe could not be asked: {error}")
        for session_id, outcome in changed:
            self.stdout.write(f"{session_id}: {outcome}")
        self.stdout.write(
            f"Fulfilled {len(changed)} missed checkout(s) since {start:%Y-%m-%d %H:%M} UTC."
        )
