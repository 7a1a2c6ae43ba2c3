import pytest

from accounts.tests.factories import StaffFactory, UserFactory
from grants.tests.factories import GrantFactory


@pytest.fixture
def learner(db):
    """A learner with a verified e-mail."""
    return UserFactory(email="ada@example.com")


@pytest.fixture
def grant(learner):
    """Ada's approved grant: an available 50% coupon valid 30 more days."""
    return GrantFactory(approved=True, email=learner.email, name="Ada Lovelace")


@pytest.fixture
def staff_client(client, db):
    client.force_login(StaffFactory(email="reviewer@maaledu.test"))
    return client
