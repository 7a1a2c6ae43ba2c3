"""The e-mail outbox (common.outbox): each e-mail is sent once, retried with one backoff policy,
given up after MAX_ATTEMPTS, and recovered by the sweep after a broker outage or a dead worker.
Real database, locmem e-mail; only the mail provider is faked (down) where a test says so."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from common import outbox
from common.models import OutboxEmail
from common.tasks import deliver_outbox_email, sweep_outbox
from common.testing.backends import skip_on_mongodb
from common.testing.concurrency import concurrent_database, race  # noqa: F401 - fixture
from common.testing.mail import REFUSING_BACKEND, WORKING_BACKEND

Status = OutboxEmail.Status
TEMPLATE = "grant_rejected"  # any of our templates: its context is one object with a name


class Applicant:
    name = "Ada"
    email = "ada@example.com"

    class course:  # a stand-in for the template's grant.course
        title = "Python"


CONTEXT = {"grant": Applicant()}


def queue(key="test:1", to=("ada@example.com",), *, publish=True):
    return outbox.enqueue_email(
        key=key, to=list(to), template=TEMPLATE, context=CONTEXT, publish=publish
    )


def owe(key="test:1", to=("ada@example.com",)):
    """Queue an e-mail whose delivery the test drives: no task is published for it (where
    ``on_commit`` runs at once, as on MongoDB, a published one would deliver it now)."""
    return queue(key, to, publish=False)


def row(key="test:1") -> OutboxEmail:
    return OutboxEmail.objects.get(key=key)


@pytest.mark.django_db
def test_an_email_is_rendered_when_queued_and_sent_after_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        assert queue() is True

    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    sent = row()
    assert (sent.status, sent.attempts, sent.last_error) == (Status.SENT, 1, "")
    assert sent.sent_at is not None and sent.subject == mail.outbox[0].subject
    assert mail.outbox[0].alternatives[0][0] == sent.html_body


VALUES = {"grant": {"name": "Ada", "course": {"title": "Python"}}}


@pytest.mark.django_db
def test_an_email_queued_as_values_is_rendered_by_the_worker_from_what_was_stored(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert outbox.enqueue_email(
            key="test:values", to=["ada@example.com"], template=TEMPLATE, values=VALUES
        )
    queued = row("test:values")
    assert (queued.context, queued.subject, queued.text_body) == (VALUES, "", "")

    for callback in callbacks:
        callback()

    assert row("test:values").status == Status.SENT
    [sent] = mail.outbox
    assert sent.to == ["ada@example.com"] and "Python" in sent.subject
    assert "Ada" in sent.body and "Ada" in sent.alternatives[0][0]


@pytest.mark.django_db
def test_a_row_rendered_when_it_was_queued_still_delivers_as_it_was_rendered():
    OutboxEmail.objects.create(  # as the release before stored values wrote every row
        key="test:old",
        template=TEMPLATE,
        to="ada@example.com",
        subject="Old subject",
        text_body="Old text",
        html_body="<p>Old html</p>",
    )

    assert outbox.deliver("test:old") is True

    [sent] = mail.outbox
    assert (sent.subject, sent.body, sent.alternatives[0][0]) == (
        "Old subject",
        "Old text",
        "<p>Old html</p>",
    )


@pytest.mark.django_db
def test_values_that_fail_to_render_at_delivery_are_a_failed_attempt_retried_later():
    outbox.enqueue_email(
        key="test:broken",
        to=["ada@example.com"],
        template="no_such_template",
        values={},
        publish=False,
    )

    assert outbox.deliver("test:broken") is False

    failed = row("test:broken")
    assert (failed.status, failed.attempts) == (Status.PENDING, 1)
    assert "TemplateDoesNotExist" in failed.last_error and mail.outbox == []


def test_an_email_is_queued_from_values_or_a_context_not_both():
    with pytest.raises(TypeError):
        outbox.enqueue_email(key="test:1", to=["a@example.com"], template=TEMPLATE)
    with pytest.raises(TypeError):
        outbox.enqueue_email(
            key="test:1", to=["a@example.com"], template=TEMPLATE, context={}, values={}
        )


@pytest.mark.django_db
def test_a_second_enqueue_of_the_same_key_is_a_noop_and_the_email_is_sent_once(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        assert queue() is True
        assert queue() is False
    with django_capture_on_commit_callbacks(execute=True):
        assert queue() is False  # after it was sent, too

    assert OutboxEmail.objects.count() == 1
    assert len(mail.outbox) == 1
    assert deliver_outbox_email.delay("test:1").get() is False  # a duplicated message
    assert outbox.sweep(now=timezone.now() + timedelta(hours=1)) == 0
    assert len(mail.outbox) == 1


NO_TRANSACTIONS = (
    "no transactions on a standalone server: each write commits at once and on_commit runs at "
    "once, so the row stays with the change written before it; services write the change "
    "first, so a change that fails queues nothing"
)


@skip_on_mongodb(
    NO_TRANSACTIONS,
    proven_by="grants/tests/test_apply.py::"
    "test_a_second_pending_application_is_explained_and_not_duplicated",
)
@pytest.mark.django_db
def test_nothing_leaves_before_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assert queue() is True
        assert mail.outbox == []

    assert [m.to for m in mail.outbox] == [["ada@example.com"]]


@skip_on_mongodb(
    NO_TRANSACTIONS,
    proven_by="grants/tests/test_apply.py::"
    "test_a_second_pending_application_is_explained_and_not_duplicated",
)
@pytest.mark.django_db
def test_the_row_rolls_back_with_the_change_that_caused_it(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        queue()
        raise RuntimeError("the state change failed")

    assert not OutboxEmail.objects.exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_nothing_is_queued_for_addresses_that_cannot_receive_mail():
    assert queue(to=["deleted-order-1@erased.invalid"]) is False
    assert queue(to=[]) is False
    assert not OutboxEmail.objects.exists()


@pytest.mark.django_db
def test_a_failing_send_is_retried_with_backoff_and_ends_failed_after_max_attempts(
    settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    owe()  # the test drives each attempt
    waits = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        before = timezone.now()
        assert outbox.deliver("test:1", as_of=row().next_attempt_at) is False  # once due
        failed = row()
        assert failed.attempts == attempt
        assert failed.last_error == "ConnectionRefusedError: smtp down"
        if attempt < outbox.MAX_ATTEMPTS:
            assert failed.status == Status.PENDING
            waits.append(failed.next_attempt_at - before)
            # Not due before its backoff: the sweep leaves it alone until then.
            assert outbox.sweep(now=failed.next_attempt_at - timedelta(seconds=1)) == 0
    assert row().status == Status.FAILED
    assert mail.outbox == []
    # 1, 2, 4, … minutes, capped at an hour.
    assert [round(wait.total_seconds() / 60) for wait in waits] == [1, 2, 4, 8, 16, 32, 60]
    # Failed is final: neither the sweep nor a late message tries it again …
    assert outbox.sweep(now=timezone.now() + timedelta(days=1)) == 0
    assert outbox.deliver("test:1") is False

    # … until staff retry it from the admin, once the provider is back.
    settings.EMAIL_BACKEND = WORKING_BACKEND
    with django_capture_on_commit_callbacks(execute=True):  # the retry's own message
        assert outbox.retry_now(["test:1"]) == 1
    assert (row().status, row().attempts, len(mail.outbox)) == (Status.SENT, 1, 1)


@pytest.mark.django_db
def test_a_failed_attempt_is_sent_by_the_sweep_once_due(settings):
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    queue()
    assert outbox.deliver("test:1") is False
    settings.EMAIL_BACKEND = WORKING_BACKEND

    assert outbox.sweep(now=timezone.now()) == 0  # its backoff has not passed
    assert outbox.sweep(now=timezone.now() + timedelta(minutes=5)) == 1

    assert (row().status, row().attempts) == (Status.SENT, 2)
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_an_email_queued_while_the_broker_is_down_is_sent_by_the_sweep(redis_down):
    with transaction.atomic():
        queue()  # the publish after commit fails: logged, left for the sweep

    assert row().status == Status.PENDING and mail.outbox == []
    redis_down.end()

    assert outbox.sweep() == 0  # too recent: its message may still be on its way
    assert outbox.sweep(now=timezone.now() + timedelta(minutes=2)) == 1
    assert row().status == Status.SENT
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert sweep_outbox.delay().get() == 0  # nothing owed any more


@pytest.mark.django_db
def test_a_stale_claim_of_a_worker_that_died_is_sent_by_the_sweep():
    owe()
    # A worker claimed it 11 minutes ago and died before sending (or before marking it sent).
    eleven_minutes_ago = timezone.now() - outbox.CLAIM_TIMEOUT - timedelta(minutes=1)
    OutboxEmail.objects.update(next_attempt_at=eleven_minutes_ago)  # queued back then
    claimed_at = outbox.claim("test:1", now=eleven_minutes_ago)
    assert claimed_at is not None and row().status == Status.SENDING

    assert outbox.sweep(now=claimed_at + timedelta(minutes=5)) == 0  # still fresh back then
    assert outbox.sweep() == 1

    assert (row().status, row().attempts) == (Status.SENT, 2)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_fresh_claim_is_not_taken_over():
    owe()
    assert outbox.claim("test:1") is not None

    assert outbox.sweep(now=timezone.now() + timedelta(minutes=5)) == 0
    assert outbox.deliver("test:1") is False
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("concurrent_database")
def test_two_threads_enqueueing_the_same_email_at_once_send_it_once():
    def enqueue_and_deliver():
        with transaction.atomic():
            queued = queue()
        return queued, outbox.deliver("test:1")

    results = race(enqueue_and_deliver, threads=6)

    # One insert wins; the delivery runs after its commit and in every thread: one sends.
    assert sorted(queued for queued, _ in results) == [False] * 5 + [True]
    assert OutboxEmail.objects.count() == 1
    assert (row().status, row().attempts) == (Status.SENT, 1)
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("concurrent_database")
def test_two_workers_claiming_the_same_email_at_once_send_it_once(redis_down):
    queue()  # its own message is lost, so the race below is the only delivery
    redis_down.end()

    results = race(lambda: outbox.deliver("test:1"), threads=6)

    assert sorted(results) == [False] * 5 + [True]
    assert len(mail.outbox) == 1
    assert (row().status, row().attempts) == (Status.SENT, 1)


@pytest.mark.django_db
def test_forgetting_a_recipient_cancels_what_is_owed_and_erases_what_was_sent(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        queue("test:sent")
    owe("test:owed", to=["other@example.com", "Ada@Example.com"])
    owe("test:someone-else", to=["bob@example.com"])
    outbox.enqueue_email(
        key="test:values", to=["ada@example.com"], template=TEMPLATE, values=VALUES, publish=False
    )

    assert outbox.forget_recipient("ADA@example.com") == 3

    assert row("test:owed").status == Status.CANCELED
    assert row("test:values").status == Status.CANCELED
    assert row("test:sent").status == Status.SENT
    for key in ("test:sent", "test:owed", "test:values"):
        assert (row(key).to, row(key).text_body, row(key).html_body) == ("", "", "")
        assert row(key).context is None
    assert row("test:someone-else").to == "bob@example.com"
    assert outbox.sweep(now=timezone.now() + timedelta(hours=1)) == 1  # bob's only
    assert [m.to for m in mail.outbox] == [["ada@example.com"], ["bob@example.com"]]
    assert queue("test:owed") is False  # still owed once: a repeat does not queue it again


@pytest.mark.django_db
def test_a_pending_email_can_be_canceled_but_not_one_being_sent():
    owe("test:a")
    owe("test:b")
    outbox.claim("test:b")

    assert outbox.cancel("test:a") is True
    assert outbox.cancel("test:b") is False
    assert outbox.cancel("test:unknown") is False
    assert outbox.deliver("test:a") is False


def test_one_backoff_policy():
    assert [outbox.backoff(n) for n in (1, 2, 3, 7, 8, 20)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(hours=1),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


@pytest.mark.django_db
def test_a_message_that_arrives_before_the_retry_is_due_claims_nothing(settings):
    """Duplicates (the sweep re-publishing while an old message waits in a backlog, a staff
    retry) must not spend the attempts of an outage back to back."""
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    queue()
    assert outbox.deliver("test:1") is False  # the first attempt fails: a retry in a minute

    for _ in range(5):  # five more messages for the row arrive at once
        assert deliver_outbox_email.delay("test:1").get() is False

    assert (row().status, row().attempts) == (Status.PENDING, 1)
    settings.EMAIL_BACKEND = WORKING_BACKEND
    assert outbox.deliver("test:1", as_of=row().next_attempt_at) is True


@pytest.mark.django_db
def test_staff_retry_publishes_only_the_emails_it_retried(django_capture_on_commit_callbacks):
    owe()
    OutboxEmail.objects.update(status=Status.FAILED)
    owe(key="test:2")  # pending, its own message on the way

    # Tasks run in-process here: a message published for test:2 would send it now.
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.retry_now(["test:1", "test:2"]) == 1

    assert (row("test:1").status, row("test:2").status) == (Status.SENT, Status.PENDING)
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
