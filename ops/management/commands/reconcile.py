from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from enrollments import stripe_gateway
from enrollments.management.commands.reconcile_stripe import parse_since
from ops.reconciliation import REPAIRABLE, reconcile


class Command(BaseCommand):
    help = (
        "Compare Stripe, our enrollments and commissions, and Frappe LMS; repair what is safe "
        "to repair and report the rest. --dry-run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", default="7d", help="window, e.g. 48h or 7d")
        parser.add_argument("--dry-run", action="store_true", help="report only, write nothing")

    def handle(self, *args, since: str, dry_run: bool, **options):
        start = timezone.now() - parse_since(since)
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
            f"Run #{run.pk}: {len(run.items)} finding(s), {run.unrepaired} not repaired"
            f"{' (dry run: nothing written)' if dry_run else ''}."
        )
