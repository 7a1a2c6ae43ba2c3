"""Events ``lms_sync`` announces to the apps above it (``ops``), which it never imports.

``lms_sync_failing`` — sent (after commit) when LMS sync needs a human: ``reason`` is one of
``"config"`` (credentials or site refused, key ``"site"``), ``"mapping"`` (a course's LMS name
refused or the LMS course unpublished, key ``"course-<id>"``) or ``"gave_up"`` (a job failed for
good, key ``"site"``), with ``detail`` (Frappe's explanation, no learner e-mail). ``ops`` opens
one incident per (kind, key) and e-mails staff once; a repeat while it is open changes nothing.

``lms_sync_recovered`` — sent (after commit) when a job synced: Frappe answered, so the
``config`` and ``gave_up`` incidents, and the ``mapping`` incident of ``course_id``, are over.

Receivers must be idempotent (the same event can be sent again) and must not raise.
"""

from django.dispatch import Signal

lms_sync_failing = Signal()
lms_sync_recovered = Signal()

CONFIG = "config"
MAPPING = "mapping"
GAVE_UP = "gave_up"
SITE_KEY = "site"


def course_key(course_id: int) -> str:
    return f"course-{course_id}"
