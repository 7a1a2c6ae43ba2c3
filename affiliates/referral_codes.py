"""Which active affiliate a referral code names, answered from this process's memory.

Every ``?ref=`` visit asks, and the answer changes only when an affiliate joins, is suspended,
reactivated or forgotten. Those writes call ``changed()``, which bumps ``VERSION_KEY`` now and
again after their commit, announced to every web process over ``common.version_feed``. Answers
are kept per version: the version is read first, then the database, and the answer is stored
under the version read, so an answer read before a write committed leaves with its version.
While the feed is not proven alive (or off, as in tests) the version costs one cache round trip;
with the cache down every visit asks the database.
"""

import threading
import time

from django.db import transaction

from common import versioned_cache

from .models import Affiliate

VERSION_KEY = "affiliates:referral-codes"
# Unknown codes are remembered too (a bot's links should not each cost a query), so memory is
# bounded: past this many codes the answers start afresh.
MAX_CODES = 10_000
# And time: a change made while Redis was unreachable (its bumps lost) is seen within this.
ANSWER_SECONDS = 300

_lock = threading.Lock()
_answers: tuple[str | None, dict[str, int | None], float] = (None, {}, 0.0)


def active_affiliate_id(code: str) -> int | None:
    """The primary key of the active affiliate whose code is ``code`` (already normalised),
    or None."""
    version = versioned_cache.current_version(VERSION_KEY)
    if version is None:
        return _from_database(code)
    known_version, known, started = _answers
    if known_version == version and code in known and time.monotonic() - started < ANSWER_SECONDS:
        return known[code]
    found = _from_database(code)
    _remember(version, code, found)
    return found


def changed() -> None:
    """An affiliate joined, or an affiliate's status changed: every process asks again. Call it
    right after the write: the bump now keeps a process from answering from before it, the one
    after the commit (at once outside a transaction) retires answers read while it was open.
    These writes are rare; two bumps cost nothing that matters."""
    versioned_cache.bump_versions(VERSION_KEY, announce=True)
    transaction.on_commit(
        lambda: versioned_cache.bump_versions(VERSION_KEY, announce=True), robust=True
    )


def _from_database(code: str) -> int | None:
    return (
        Affiliate.objects.filter(referral_code=code, status=Affiliate.Status.ACTIVE)
        .values_list("pk", flat=True)
        .first()
    )


def _remember(version: str, code: str, affiliate_id: int | None) -> None:
    """Readers need no lock: they take the (version, answers) pair as one reference, and a
    dict read beside one insert is safe."""
    global _answers
    with _lock:
        known_version, known, started = _answers
        now = time.monotonic()
        if known_version != version or len(known) >= MAX_CODES or now - started >= ANSWER_SECONDS:
            known = {}
            _answers = (version, known, now)
        known[code] = affiliate_id
