"""The refund policy: the rules the refund service applies and the words learners read.

One place for both, so the course and checkout pages cannot promise something the refund
service (``enrollments.services.refunds``) does not do. The refund window is the one after
which affiliate commissions are approved (``COMMISSION_REFUND_WINDOW_DAYS``).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings


@dataclass(frozen=True)
class RefundPolicy:
    window_days: int
    contact_email: str

    def revokes_access(self, *, full: bool, staff_chose_to_revoke: bool) -> bool:
        """A full refund always ends LMS access; a partial one only when staff chose so."""
        return full or staff_chose_to_revoke

    def gives_coupon_back(self, *, used_a_coupon: bool, staff_chose_to_restore: bool) -> bool:
        """A grant coupon is given back only when staff chose so."""
        return used_a_coupon and staff_chose_to_restore

    def within_window(self, paid_at: datetime | None, now: datetime) -> bool:
        return paid_at is not None and now - paid_at <= timedelta(days=self.window_days)

    @property
    def terms(self) -> tuple[str, ...]:
        """The policy in the learner's words (course page, checkout, staff's refund page)."""
        return (
            f"You can ask for a refund within {self.window_days} days of your purchase by "
            f"writing to {self.contact_email}.",
            "The money goes back to the card you paid with, in full or in part.",
            "A full refund ends your access to the course; after a partial refund you keep "
            "it unless we agree otherwise.",
            "A grant coupon used for the purchase is not given back unless we agree to.",
        )


def refund_policy() -> RefundPolicy:
    return RefundPolicy(
        window_days=settings.COMMISSION_REFUND_WINDOW_DAYS,
        contact_email=settings.SUPPORT_EMAIL,
    )
