"""A query budget on the affiliate payout path (the admin's "Create payout…" action): measured
on a small and a large history (approved commissions to pay, earlier payouts, days of daily
totals), so an N+1 over any of them shows as a count that grows with the history.

The request itself costs the same whatever the history. What runs after its commit (the
affiliate's daily totals, ``affiliates.earnings.refresh``) rewrites one ``EarningsDay`` row per
day the paid commissions were sold on, one UPDATE each: by design it follows the days, never
the commissions (each day's UPDATE is conditional on its own stamp)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from affiliates import earnings, services
from affiliates.models import Commission, Payout
from affiliates.tests.factories import AffiliateFactory, CommissionFactory
from common.testing.backends import skip_on_mongodb

pytestmark = pytest.mark.django_db

AFFILIATES = reverse("admin:affiliates_affiliate_changelist")
SMALL, LARGE = 2, 40
# The request alone; measured 23 (for one affiliate, one currency).
BUDGET_PAYOUT = 27
# After the commit, besides one UPDATE per day sold on; measured 4.
BUDGET_AFTER_COMMIT = 6

after_commit_in_request = skip_on_mongodb(
    "without transactions the after-commit day refreshes run inside the request and are counted",
    proven_by="affiliates/tests/test_earnings.py (one refresh per touched day, on MongoDB too)",
)


def _affiliate_with_history(size: int):
    """``size`` earlier payouts of one commission each, then ``2 × size`` approved commissions
    (two sold on each of ``size`` days) waiting to be paid."""
    affiliate = AffiliateFactory()
    staff = StaffFactory()

    def approved(days_ago):
        return CommissionFactory(
            affiliate=affiliate,
            amount_cents=1000,
            status=Commission.Status.APPROVED,
            approved_at=timezone.now(),
            sold_at=timezone.now() - timedelta(days=days_ago),
        )

    for n in range(size):
        approved(100 + n)
        services.create_payout(
            affiliate_id=affiliate.pk,
            currency="usd",
            method="paypal",
            reference=f"OLD-{n}",
            created_by=staff,
        )
    for n in range(size):
        approved(n + 1)
        approved(n + 1)
    earnings.refresh(affiliate.pk)  # as the writers leave it: nothing stale
    return affiliate


def _pay(client, affiliate):
    response = client.post(
        AFFILIATES,
        {
            "action": "create_payouts",
            "_selected_action": [affiliate.pk],
            "apply": "1",
            "method": "",
            "reference": "BATCH",
        },
    )
    assert response.status_code == 302
    payout = Payout.objects.get(affiliate=affiliate, reference="BATCH")
    assert payout.commissions.count() == payout.commissions_claimed


def _measure(client, affiliate, on_commit) -> tuple[int, int]:
    """Queries of the request, then of what it left to run after its commit."""
    with CaptureQueriesContext(connection) as request, on_commit() as callbacks:
        _pay(client, affiliate)
    with CaptureQueriesContext(connection) as after_commit:
        for callback in callbacks:
            callback()
    return len(request), len(after_commit)


@after_commit_in_request
def test_the_payout_action_stays_within_its_budget_whatever_the_history(
    client, settings, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    settings.PAYOUT_MINIMUM_CENTS = 100
    client.force_login(StaffFactory(is_superuser=True))
    # The signed-in user is then kept in memory (affiliates.signed_in): neither request below
    # loads them, so the two counts compare like with like.
    client.get(AFFILIATES)

    small = _measure(client, _affiliate_with_history(SMALL), django_capture_on_commit_callbacks)
    large_affiliate = _affiliate_with_history(LARGE)
    with django_assert_max_num_queries(BUDGET_PAYOUT + BUDGET_AFTER_COMMIT + LARGE):
        large = _measure(client, large_affiliate, django_capture_on_commit_callbacks)

    assert large[0] == small[0] <= BUDGET_PAYOUT, f"the request grows (N+1?): {small} → {large}"
    # One UPDATE per day sold on (2 commissions a day): the days, not the commissions.
    assert large[1] - LARGE == small[1] - SMALL <= BUDGET_AFTER_COMMIT, (small, large)
