"""Send this e-mail once: the outbox every e-mail of ours goes through.

The service whose change causes an e-mail calls ``enqueue_email`` in the same database
transaction as that change. It inserts one ``OutboxEmail`` row whose unique ``key`` names the
e-mail and what it is about (``enrollment-confirmation:42``): a second insert for the same key —
a repeated webhook, a replayed import, two requests at once — is a no-op, so each e-mail is owed
at most once. After commit a Celery task is published (``common.tasks.deliver_outbox_email``); a
publish that fails (Redis down) is left to the sweep.

The message says what was true when the change was made, in one of two ways. ``values``: the
row stores them (plain JSON values the service took from the rows it wrote: a course title, an
amount as shown) and ``deliver`` renders the template with them, so the request that owes the
e-mail does not pay for rendering it (the payment's confirmation). ``context`` (model instances
allowed): the message is rendered now and stored. Rows of either kind deliver.

Delivering (``deliver``) claims the row with one conditional UPDATE (pending → sending, or a
claim older than ``CLAIM_TIMEOUT`` whose worker died), renders it if it was stored as values,
sends it through ``common.mail``, and marks it sent. A failed send (or a template that fails to
render) gives the claim back with one retry policy for every e-mail: the next attempt
``backoff(attempts)`` later, and after ``MAX_ATTEMPTS`` the row is ``failed`` (listed in the
admin, where staff can retry it, and counted by ``ops.collectors``).

One periodic sweep (``sweep``, every minute from ``CELERY_BEAT_SCHEDULE``) re-enqueues every due
pending row and every stale claim, whatever the e-mail. Delivery is at least once only in one
case: a worker that dies after the mail server accepted the message but before marking the row
sent; its stale claim is sent again.
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from common.transactions import insert_unless_present

from .mail import RenderedEmail, deliverable, render_templated_email, send_rendered_email
from .models import OutboxEmail
from .queue import enqueue, enqueue_on_commit

logger = logging.getLogger(__name__)

Status = OutboxEmail.Status

# The retry policy of every e-mail: 1, 2, 4, … minutes after each failed attempt, at most an
# hour apart; after the eighth failed attempt (about two hours) the e-mail is marked failed.
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
# A claim this old belongs to a worker that died (a send takes seconds; SMTP times out sooner).
CLAIM_TIMEOUT = timedelta(minutes=10)
# A new row's own message is probably on its way: the sweep leaves it alone this long.
IN_FLIGHT_GRACE = timedelta(minutes=1)
SWEEP_BATCH = 500


def backoff(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed attempt an e-mail is tried again."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def enqueue_email(
    *,
    key: str,
    to: Iterable[str],
    template: str,
    context: dict | None = None,
    values: dict | None = None,
    publish: bool = True,
) -> bool:
    """Owe the e-mail ``template`` to ``to``, once per ``key``; True if this call queued it.

    Give ``values`` (JSON values, stored and rendered by ``deliver``) or ``context`` (rendered
    now); either says what was true when the change was made. ``publish=False``: the caller's
    own after-commit task delivers it (``deliver(key)``), so a request that owes an e-mail among
    other after-commit work publishes one message, not two; the sweep still covers a lost one.

    Call it inside the transaction that writes the change the e-mail is about: the row commits
    (or rolls back) with it, and the delivery task is published after commit. No row is written
    when no address in ``to`` can receive mail (none configured, or a deleted account's
    placeholder).
    """
    if (context is None) == (values is None):
        raise TypeError("enqueue_email takes exactly one of context and values")
    to = [address.strip() for address in to if address and deliverable(address)]
    if not to:
        logger.info("event=email.skipped key=%s template=%s reason=undeliverable", key, template)
        return False
    # No look-up first: most e-mails are queued once (a state change happens once), and the
    # unique key refuses a repeat below (a repeat's rendering, if any, is cheaper than a query).
    if values is None:
        email = render_templated_email(template=template, context=context)
        stored = {"subject": email.subject, "text_body": email.text, "html_body": email.html}
    else:
        stored = {"context": values}
    # No savepoint where the database skips a repeat itself: inside the caller's transaction
    # (the payment's), one statement.
    if not insert_unless_present(
        OutboxEmail(key=key, template=template, to="\n".join(to), **stored)
    ):
        return False
    if publish:
        from .tasks import deliver_outbox_email

        enqueue_on_commit(deliver_outbox_email, key)
    logger.info("event=email.queued key=%s template=%s", key, template)
    return True


def _claimable(now: datetime) -> Q:
    """Due (a retry waits out its backoff, however many messages name it), or a stale claim."""
    return Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Status.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT
    )


def claim(
    key: str, *, now: datetime | None = None, as_of: datetime | None = None
) -> datetime | None:
    """Claim the e-mail for one send: pending and due → sending (or take over a stale claim).
    Returns the claim's time, or None when it is not ours to send (sent, failed, claimed, not
    due yet, unknown). ``as_of``: the time the row was found due (the sweep's), else now."""
    now = now or timezone.now()
    claimed = OutboxEmail.objects.filter(_claimable(as_of or now), key=key).update(
        status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    return now if claimed == 1 else None


def deliver(key: str, *, as_of: datetime | None = None) -> bool:
    """Send the e-mail ``key`` if it is still owed and due; True when this call sent it.

    A failed send is recorded (``last_error``) and scheduled again by the retry policy, or
    marked failed after the last attempt; it does not raise, so no task-level retry exists. A
    message that arrives before the row's retry is due (a duplicate, a staff retry of another
    key) claims nothing: backoff holds however many messages name the row.
    """
    claimed_at = claim(key, as_of=as_of)
    if claimed_at is None:
        return False
    row = OutboxEmail.objects.get(key=key)
    try:
        send_rendered_email(to=row.recipients, email=message(row), template=row.template)
    except Exception as error:
        _release(row, claimed_at=claimed_at, error=error)
        return False
    OutboxEmail.objects.filter(key=key, status=Status.SENDING, claimed_at=claimed_at).update(
        status=Status.SENT, sent_at=timezone.now(), last_error=""
    )
    logger.info("event=email.sent key=%s template=%s attempt=%s", key, row.template, row.attempts)
    return True


def message(row: OutboxEmail) -> RenderedEmail:
    """The row's message: rendered now from its stored values, or as it was rendered when
    queued (rows without values)."""
    if row.context is not None:
        return render_templated_email(template=row.template, context=row.context)
    return RenderedEmail(subject=row.subject, text=row.text_body, html=row.html_body)


def _release(row: OutboxEmail, *, claimed_at: datetime, error: Exception) -> None:
    now = timezone.now()
    gave_up = row.attempts >= MAX_ATTEMPTS
    OutboxEmail.objects.filter(pk=row.pk, status=Status.SENDING, claimed_at=claimed_at).update(
        status=Status.FAILED if gave_up else Status.PENDING,
        next_attempt_at=now + backoff(row.attempts),
        last_error=f"{type(error).__name__}: {error}"[:2000],
    )
    if gave_up:
        logger.error(
            "event=email.failed key=%s template=%s attempts=%s error=%r (gave up)",
            row.key,
            row.template,
            row.attempts,
            str(error)[:200],
        )
    else:
        logger.warning(
            "event=email.retry key=%s template=%s attempt=%s error=%r next_in=%s",
            row.key,
            row.template,
            row.attempts,
            str(error)[:200],
            backoff(row.attempts),
        )


def sweep(*, now: datetime | None = None) -> int:
    """Publish a delivery task for every due pending e-mail and every stale claim; how many.

    Covers whatever a lost message left behind (the broker was down when the change
    committed, or a worker died mid-send) and every scheduled retry. A row enqueued twice is
    still sent once: the claim decides.
    """
    now = now or timezone.now()
    due = OutboxEmail.objects.filter(
        Q(status=Status.PENDING, next_attempt_at__lte=now - IN_FLIGHT_GRACE)
        | Q(status=Status.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT)
    )
    keys = list(due.order_by("next_attempt_at").values_list("key", flat=True)[:SWEEP_BATCH])
    from .tasks import deliver_outbox_email

    # Each message carries the sweep's time: the claim checks the row against what was due then.
    enqueued = sum(enqueue(deliver_outbox_email, key, now.isoformat()) for key in keys)
    if enqueued:
        logger.info("event=email.swept count=%s", enqueued)
    return enqueued


def retry_now(keys: Iterable[str]) -> int:
    """Staff's "retry": failed e-mails among ``keys`` get a fresh set of attempts, now."""
    from .tasks import deliver_outbox_email

    retried = 0
    for key in keys:  # one conditional update each: only what this call retried is published
        if OutboxEmail.objects.filter(key=key, status=Status.FAILED).update(
            status=Status.PENDING, attempts=0, next_attempt_at=timezone.now()
        ):
            retried += 1
            enqueue_on_commit(deliver_outbox_email, key)
    return retried


def cancel(key: str) -> bool:
    """The e-mail is no longer owed, if it has not been claimed yet: True when this call
    canceled it, False when it is being sent, was sent, failed or never existed."""
    return bool(
        OutboxEmail.objects.filter(key=key, status=Status.PENDING).update(status=Status.CANCELED)
    )


def forget_recipient(address: str) -> int:
    """A deleted account: e-mails to ``address`` not sent yet never will be, and every e-mail
    to it loses its addresses, text and stored values (the key, status and dates stay, so a
    repeated event still finds the e-mail owed once). Returns how many rows were touched. Safe
    to re-run."""
    address = address.strip().lower()
    if not address:
        return 0
    candidates = OutboxEmail.objects.filter(to__icontains=address).values_list("pk", "to")
    ids = [
        pk for pk, to in candidates if address in (line.strip().lower() for line in to.split("\n"))
    ]
    if not ids:
        return 0
    OutboxEmail.objects.filter(
        pk__in=ids, status__in=[Status.PENDING, Status.SENDING, Status.FAILED]
    ).update(status=Status.CANCELED)
    OutboxEmail.objects.filter(pk__in=ids).update(
        to="", subject="", text_body="", html_body="", context=None
    )
    logger.info("event=email.recipient_forgotten emails=%s", len(ids))
    return len(ids)


# --- Reads (admin columns, tests) -------------------------------------------------------------


def find(key: str) -> OutboxEmail | None:
    return OutboxEmail.objects.filter(key=key).first()


def sent_at(key: str) -> datetime | None:
    """When the e-mail ``key`` was sent, or None (not owed, pending, failed, canceled)."""
    return (
        OutboxEmail.objects.filter(key=key, status=Status.SENT)
        .values_list("sent_at", flat=True)
        .first()
    )


def statuses(keys: Iterable[str]) -> dict[str, str]:
    """The status of each of ``keys`` that has a row (one query)."""
    return dict(OutboxEmail.objects.filter(key__in=list(keys)).values_list("key", "status"))


def emails_about(*, keys: Iterable[str] = (), prefixes: Iterable[str] = ()) -> list[OutboxEmail]:
    """The outbox rows with one of ``keys`` or a key starting with one of ``prefixes`` (the
    admin pages of enrollments, grants, affiliates and incidents list them), oldest first."""
    condition = Q(key__in=list(keys))
    for prefix in prefixes:
        condition |= Q(key__startswith=prefix)
    return list(
        OutboxEmail.objects.filter(condition)
        .only("pk", "key", "status", "sent_at", "created_at")
        .order_by("created_at", "pk")
    )
