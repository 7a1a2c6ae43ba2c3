from django.core.management.base import BaseCommand

from affiliates import dashboard_cache, earnings


class Command(BaseCommand):
    help = (
        "Count every commission not yet in its affiliate's daily totals (after the migration "
        "that added them, a bulk import or a crash). Safe to run at any time, and again; each "
        "dashboard view does the same for its own affiliate."
    )

    def handle(self, *args, **options):
        affiliate_ids = earnings.stale_affiliate_ids()
        days = sum(earnings.refresh(affiliate_id) for affiliate_id in affiliate_ids)
        self.stdout.write(f"{len(affiliate_ids)} affiliate(s), {days} day(s) recomputed.")
        if affiliate_ids:
            dashboard_cache.invalidate(*affiliate_ids)
