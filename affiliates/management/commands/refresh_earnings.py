from django.core.management.base import BaseCommand

from affiliates.services import refresh_stale_earnings


class Command(BaseCommand):
    help = (
        "Count every commission not yet in its affiliate's daily totals (after the migration "
        "that added them, a bulk import or a crash). Safe to run at any time, and again; beat "
        "does the same every 10 minutes, and each dashboard view for its own affiliate."
    )

    def handle(self, *args, **options):
        affiliates, days = refresh_stale_earnings()
        self.stdout.write(f"{affiliates} affiliate(s), {days} day(s) recomputed.")
