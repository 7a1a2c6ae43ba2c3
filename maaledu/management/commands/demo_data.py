"""What ``make demo`` adds to ``seed_demo``: a learner to buy as (their purchases and receipts
show in "My orders"), an affiliate to refer sales, and the course outlines read once from the
(fake) LMS. Demo settings only."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.services import ensure_demo_user
from affiliates.services import ensure_demo_affiliate
from lms_sync.services import sync_course_outlines

DEMO_AFFILIATE_EMAIL = "partner@maaledu.local"
DEMO_AFFILIATE_PASSWORD = "maaledu-demo-partner"  # noqa: S105 (a demo login, printed to all)
DEMO_REFERRAL_CODE = "partner"
DEMO_LEARNER_EMAIL = "learner@maaledu.local"
DEMO_LEARNER_PASSWORD = "maaledu-demo-learner"  # noqa: S105 (a demo login, printed to all)


class Command(BaseCommand):
    help = "Demo affiliate and LMS course outlines for `make demo` (DEMO_MODE only; idempotent)."

    def handle(self, *args, **options):
        if not getattr(settings, "DEMO_MODE", False):
            raise CommandError("demo_data runs only with the demo settings (make demo).")
        ensure_demo_user(email=DEMO_LEARNER_EMAIL, password=DEMO_LEARNER_PASSWORD)
        user = ensure_demo_user(email=DEMO_AFFILIATE_EMAIL, password=DEMO_AFFILIATE_PASSWORD)
        ensure_demo_affiliate(
            user=user, referral_code=DEMO_REFERRAL_CODE, paypal_email=DEMO_AFFILIATE_EMAIL
        )
        outlines = sync_course_outlines()
        self.stdout.write(
            f"Demo learner: {DEMO_LEARNER_EMAIL} / {DEMO_LEARNER_PASSWORD}; "
            f"demo affiliate: {DEMO_AFFILIATE_EMAIL} / {DEMO_AFFILIATE_PASSWORD} "
            f"(referral link: {settings.SITE_URL}/?ref={DEMO_REFERRAL_CODE}); "
            f"course outlines read from the LMS: {outlines}."
        )
