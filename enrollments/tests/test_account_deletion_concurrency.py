"""A double-clicked "Delete my account": two deletions of one account overlap for real, on
PostgreSQL, and end as one would. Every step is conditional or idempotent."""

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from common.testing.concurrency import concurrent_database, race  # noqa: F401 - a fixture
from enrollments.models import Enrollment
from enrollments.services import privacy
from enrollments.tests.factories import EnrollmentFactory
from grants.models import Grant
from grants.tests.factories import GrantFactory
from lms_sync.models import LmsUserErasure

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("concurrent_database"),
]
THREADS = 4


def test_overlapping_deletions_of_one_account_end_as_one():
    user = UserFactory(email="twice@example.com")
    order = EnrollmentFactory(
        email=user.email, user=user, status=Enrollment.Status.PAID, paid_at=timezone.now()
    )
    GrantFactory(approved=True, email=user.email)
    # each request loaded the account itself
    stale = [User.objects.get(pk=user.pk) for _ in range(THREADS)]

    race(privacy.delete_account, args=stale)

    user.refresh_from_db()
    assert user.email == f"deleted-user-{user.pk}@erased.invalid" and not user.is_active
    assert LmsUserErasure.objects.count() == 1
    order.refresh_from_db()
    assert order.email == f"deleted-order-{order.pk}@erased.invalid"
    assert order.amount_due_cents > 0
    assert not Grant.objects.filter(email="twice@example.com").exists()


def test_deleting_again_after_an_interruption_finishes_the_job():
    """A deletion that stopped before its last step: asked for again, it completes."""
    user = UserFactory(email="again@example.com")
    GrantFactory(email=user.email)
    privacy.delete_account(User.objects.get(pk=user.pk))
    # The second request comes from a browser still holding the old account object.
    privacy.delete_account(user)

    assert LmsUserErasure.objects.count() == 1
    assert User.objects.get(pk=user.pk).email.endswith("@erased.invalid")
