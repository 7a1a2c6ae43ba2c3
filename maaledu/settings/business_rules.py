"""Business rules: affiliate cookies and rates, commission and refund windows, payouts, grant
coupons, support address, the demo staff password."""

from datetime import date

from .environment import env

# --- Business rules -----------------------------------------------------------------------
AFFILIATE_COOKIE_DAYS = env.int("AFFILIATE_COOKIE_DAYS", default=30)
# Old MaalEdu links (?ref=<affiliate e-mail>) resolve to the affiliate until this day
# (YYYY-MM-DD) inclusive; empty = not at all. Set it when importing (README, "Moving from the old
# MaalEdu"), e.g. 90 days after the switch.
_legacy_ref_until = env("LEGACY_REF_LINKS_UNTIL", default="")
LEGACY_REF_LINKS_UNTIL = date.fromisoformat(_legacy_ref_until) if _legacy_ref_until else None
AFFILIATE_DEFAULT_RATE_PERCENT = env.int("AFFILIATE_DEFAULT_RATE_PERCENT", default=10)
# The refund window learners are promised (common.refund_policy); commissions are approved
# after it.
COMMISSION_REFUND_WINDOW_DAYS = env.int("COMMISSION_REFUND_WINDOW_DAYS", default=14)
# Where learners write for help and refunds (shown on the course and checkout pages).
SUPPORT_EMAIL = env("SUPPORT_EMAIL", default="support@maaledu.local")
PAYOUT_MINIMUM_CENTS = env.int("PAYOUT_MINIMUM_CENTS", default=5000)
GRANT_COUPON_VALID_DAYS = env.int("GRANT_COUPON_VALID_DAYS", default=30)
# Password of the demo staff account that `seed_demo` creates (development only: empty here,
# seed_demo then refuses to create it; development.py sets the printed default).
DEMO_ADMIN_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="")
