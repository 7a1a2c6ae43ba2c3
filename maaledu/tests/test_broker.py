"""The broker transport (maaledu/broker.py): kombu's Redis transport with one client per
channel. Real Redis."""

import pytest
from django.conf import settings
from kombu import Connection

from maaledu import broker
from maaledu.celery import app

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL.startswith("redis://"), reason="needs Redis: set REDIS_URL"
)


@pytest.fixture
def connection():
    with Connection(settings.REDIS_URL, transport=broker.Transport) as conn:
        yield conn


def test_celery_publishes_through_the_transport_that_reuses_its_client():
    with app.connection_for_write() as conn:
        assert type(conn.transport) is broker.Transport


def test_a_channel_reuses_one_client_until_its_pool_is_replaced(connection):
    channel = connection.default_channel

    first = channel._create_client()
    assert channel._create_client() is first

    channel._disconnect_pools()  # as after a fork or a lost connection
    again = channel._create_client()
    assert again is not first
    assert again.connection_pool is channel.pool


def test_messages_go_through_and_come_back(connection):
    queue = connection.SimpleQueue("maaledu-test-broker")
    try:
        queue.clear()
        for n in range(3):
            queue.put({"n": n})
        received = []
        for _ in range(3):
            message = queue.get(timeout=5)
            received.append(message.payload["n"])
            message.ack()
        assert received == [0, 1, 2]
    finally:
        queue.clear()
        queue.close()
