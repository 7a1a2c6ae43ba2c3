import re
from datetime import UTC, date, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from enrollments import stripe_gateway
from ops.reconciliation import REPAIRABLE, reconcile

_DURATION = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """The start of the window: a duration back from now (``30m``, ``48h``, ``7d``) or an ISO
    date or date-time (``2026-12-01``, ``2026-12-01T08:00``; UTC unless it names a zone)."""
    now = now or timezone.now()
    text = value.strip()
    match = _DURATION.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            "--since takes a duration such as 30m, 48h or 7d, or a date such as 2026-12-01"
        )
    if len(text) == 10:  # a date alone: from the start of that day
        moment = datetime.combine(date.fromisoformat(text), time.min)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Command(BaseCommand):
    help = (
        "Compare Stripe, our enrollments and commissions, and Frappe LMS; repair what is safe "
        "to repair (a paid Checkout Session whose webhook never arrived is fulfilled, a missed "
        "refund applied) and report the rest. Idempotent. --dry-run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", default="7d", help="window: a duration (30m, 48h, 7d) or a date (2026-12-01)"
        )
        parser.add_argument("--dry-run", action="store_true", help="report only, write nothing")

    def handle(self, *args, since: str, dry_run: bool, **options):
        start = parse_since(since)
        try:
            run = reconcile(since=start, dry_run=dry_run)
        except (stripe_gateway.GatewayError, stripe_gateway.PaymentsNotConfigured) as error:
            raise CommandError(f"Stripe could not be asked: {error}")
        verb = "would repair" if dry_run else "repaired"
        for item in run.items:
            repairable = item["kind"] in REPAIRABLE and (item["repaired"] or dry_run)
            state = verb if repairable else "NEEDS A HUMAN"
            self.stdout.write(f"{item['kind']:<24} {item['ref']:<28} {state}: {item['detail']}")
        self.stdout.write(
            f"Run #{run.pk} since {start:%Y-%m-%d %H:%M} UTC: {len(run.items)} finding(s), "
            f"{run.unrepaired} not repaired{' (dry run: nothing written)' if dry_run else ''}."
        )
