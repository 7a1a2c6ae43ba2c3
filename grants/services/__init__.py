"""Writes for grants: applying, staff decisions, and the coupon's life at checkout.

Every state change is one conditional UPDATE whose WHERE names the state it expects, and whose
row count says whether it happened; or an INSERT guarded by a unique constraint. Nothing reads a
row, decides in Python and writes it back. E-mails are queued in the outbox inside the
transaction of the change that causes them.

- ``applications``: applying (and its e-mails to the applicant and staff).
- ``decisions``: staff approve (with a fresh coupon) or reject; internal notes.
- ``redemption``: the coupon at checkout — reserve, hold, redeem, release, the 100% claim,
  restore after a refund, and the hourly expiry. Which coupon a checkout may use is a read:
  ``grants.selectors.find_coupon_for_checkout``.
- ``emails``: the grant e-mails, queued in the outbox (``common.outbox``).
- ``privacy``: a deleted account's grants; ``imports``: grants from the old MaalEdu.

Callers import from here (``from grants import services``); the modules are private.
"""

from ..errors import CouponRefused, DuplicateApplication, GrantError
from .applications import apply_for_grant
from .decisions import approve_grants, reject_grants, update_admin_notes
from .imports import import_grant
from .privacy import forget_applicant
from .redemption import (
    claim_coupon_for_free_enrollment,
    expire_coupons,
    hold_coupon_until_payment_result,
    redeem_coupon,
    release_coupon,
    reserve_coupon,
    restore_coupon,
)

__all__ = [
    "CouponRefused",
    "DuplicateApplication",
    "GrantError",
    "apply_for_grant",
    "approve_grants",
    "claim_coupon_for_free_enrollment",
    "expire_coupons",
    "forget_applicant",
    "hold_coupon_until_payment_result",
    "import_grant",
    "redeem_coupon",
    "reject_grants",
    "release_coupon",
    "reserve_coupon",
    "restore_coupon",
    "update_admin_notes",
]
