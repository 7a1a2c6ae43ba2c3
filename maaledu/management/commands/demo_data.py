"""What ``make demo`` adds to ``seed_demo``: a learner to buy as (their purchases and receipts
show in "My orders"), an affiliate to refer sales, and the course outlines read once from the
(fake) LMS. Demo settings only."""

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
DEMO_LEARNER_EMAIL = "learner@maaledu.local"
DEMO_LEARNER_PASSWORD = "maaledu-demo-learner"  # noqa: S105 (a demo login, printed to all)


def _demo_user(email: str, password: str):
    """A user with a verified e-mail and this password (made once, password reset each start)."""
    user, _ = get_user_model().objects.get_or_create(email=email)
    user.set_password(password)
    user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


class Command(BaseCommand):
    help = "Demo affiliate and LMS course outlines for `make demo` (DEMO_MODE only; idempotent)."

    def handle(self, *args, **options):
        if not getattr(settings, "DEMO_MODE", False):
            raise CommandError("demo_data runs only with the demo settings (make demo).")
        _demo_user(DEMO_LEARNER_EMAIL, DEMO_LEARNER_PASSWORD)
        user = _demo_user(DEMO_AFFILIATE_EMAIL, DEMO_AFFILIATE_PASSWORD)
        Affiliate.objects.get_or_create(
            user=user,
            defaults={
                "referral_code": DEMO_REFERRAL_CODE,
                "payout_method": PayoutMethod.PAYPAL,
                "paypal_email": DEMO_AFFILIATE_EMAIL,
                "terms_accepted_at": timezone.now(),
            },
        )
        outlines = sync_course_outlines()
        self.stdout.write(
            f"Demo learner: {DEMO_LEARNER_EMAIL} / {DEMO_LEARNER_PASSWORD}; "
            f"demo affiliate: {DEMO_AFFILIATE_EMAIL} / {DEMO_AFFILIATE_PASSWORD} "
            f"(referral link: {settings.SITE_URL}/?ref={DEMO_REFERRAL_CODE}); "
            f"course outlines read from the LMS: {outlines}."
        )
