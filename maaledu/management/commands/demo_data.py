"""What ``make demo`` adds to ``seed_demo``: an affiliate to refer sales, and the course
outlines read once from the (fake) LMS. Demo settings only."""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from affiliates.models import Affiliate, PayoutMethod
from lms_sync.services import sync_course_outlines

DEMO_AFFILIATE_EMAIL = "partner@maaledu.local"
DEMO_AFFILIATE_PASSWORD = "maaledu-demo-partner"  # noqa: S105 (a demo login, printed to all)
DEMO_REFERRAL_CODE = "partner"


class Command(BaseCommand):
    help = "Demo affiliate and LMS course outlines for `make demo` (DEMO_MODE only; idempotent)."

    def handle(self, *args, **options):
        if not getattr(settings, "DEMO_MODE", False):
            raise CommandError("demo_data runs only with the demo settings (make demo).")
        user, _ = get_user_model().objects.get_or_create(email=DEMO_AFFILIATE_EMAIL)
        user.set_password(DEMO_AFFILIATE_PASSWORD)
        user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(
            user=user, email=DEMO_AFFILIATE_EMAIL, defaults={"verified": True, "primary": True}
        )
        Affiliate.objects.get_or_create(
            user=user,
            defaults={
                "referral_code": DEMO_REFERRAL_CODE,
                "payout_method": PayoutMethod.PAYPAL,
                "paypal_email": DEMO_AFFILIATE_EMAIL,
                "terms_accepted_at": timezone.now(),
                "welcome_sent_at": timezone.now(),
            },
        )
        outlines = sync_course_outlines()
        self.stdout.write(
            f"Demo affiliate: {DEMO_AFFILIATE_EMAIL} / {DEMO_AFFILIATE_PASSWORD} "
            f"(referral link: {settings.SITE_URL}/?ref={DEMO_REFERRAL_CODE}); "
            f"course outlines read from the LMS: {outlines}."
        )
