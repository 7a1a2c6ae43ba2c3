"""Joining the affiliate programme while Redis (the Celery broker) is down: the new affiliate
gets their dashboard, and the welcome e-mail the lost message carried is sent by the sweep."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from affiliates import services
from affiliates.models import Affiliate
from affiliates.tests.test_join import JOIN, PAYPAL_FORM
from common import outbox

# Committed for real: outside a test transaction, on-commit work runs at once, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def test_joining_while_redis_is_down_answers_normally_and_the_sweep_sends_the_welcome(
    client, redis_down
):
    client.force_login(UserFactory(email="ann@example.com"))

    response = client.post(JOIN, PAYPAL_FORM)

    assert response.status_code == 302
    assert response["Location"] == reverse("affiliates:dashboard")
    assert mail.outbox == []
    redis_down.end()

    assert outbox.sweep() == 0  # too recent: its message may still arrive
    later = timezone.now() + timedelta(minutes=10)
    assert outbox.sweep(now=later) == 1

    assert outbox.sent_at(services.welcome_key(Affiliate.objects.get().pk)) is not None
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert outbox.sweep(now=later) == 0
