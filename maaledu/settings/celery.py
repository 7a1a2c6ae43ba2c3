"""Celery: the broker (Redis when ``REDIS_URL`` is set, else tasks run in-process) and the beat
schedule of every periodic task and sweep."""

from celery.schedules import crontab

from .caches import REDIS_URL
from .environment import env

CELERY_BROKER_URL = REDIS_URL or "memory://"
# kombu's Redis transport, reusing one client per channel (maaledu/broker.py); other schemes
# (rediss://, sentinel://) keep kombu's own.
CELERY_BROKER_TRANSPORT = "maaledu.broker:Transport" if REDIS_URL.startswith("redis://") else None
CELERY_RESULT_BACKEND = None
# Without a broker the site still works: tasks run in-process, right after commit.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
# A task is acknowledged only after it ran; a worker that dies mid-task gives it back to Redis.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = "maaledu"
CELERY_TIMEZONE = "UTC"
# How often course outlines are read from the LMS: a change there shows within this period.
LMS_OUTLINE_SYNC_SECONDS = env.int("LMS_OUTLINE_SYNC_SECONDS", default=10 * 60)
CELERY_BEAT_SCHEDULE = {
    # Three-way reconciliation of the last week (ops.reconciliation), every night.
    "ops-nightly-reconcile": {
        "task": "ops.tasks.nightly_reconcile",
        "schedule": crontab(hour=2, minute=30),
    },
    # Alert checks (ops.alerts): each alert e-mails staff once per incident.
    "ops-check-alerts": {"task": "ops.tasks.check_alerts", "schedule": 5 * 60},
    # The e-mail outbox (common.outbox): every e-mail due, retried, or lost with its message.
    "common-sweep-outbox": {"task": "common.tasks.sweep_outbox", "schedule": 60},
    "enrollments-expire-stale-checkouts": {
        "task": "enrollments.tasks.expire_stale_checkouts",
        "schedule": 15 * 60,
    },
    # Receipt links of Stripe invoices whose fetch after payment was lost.
    "enrollments-sweep-missing-invoice-links": {
        "task": "enrollments.tasks.sweep_missing_invoice_links",
        "schedule": 10 * 60,
    },
    # The LMS sweep: creates jobs a lost signal missed, starts due sync jobs and jobs whose
    # worker died (lease expired).
    "lms-sync-sweep-due-jobs": {"task": "lms_sync.tasks.sweep_due_jobs", "schedule": 60},
    # Deleted accounts: their LMS users are removed by these jobs.
    "lms-sync-sweep-user-erasures": {"task": "lms_sync.tasks.sweep_user_erasures", "schedule": 60},
    "lms-sync-pull-progress": {"task": "lms_sync.tasks.pull_progress", "schedule": 30 * 60},
    # Commissions a crash, a migration or an import left out of the daily totals.
    "affiliates-refresh-stale-earnings": {
        "task": "affiliates.tasks.refresh_stale_earnings",
        "schedule": 10 * 60,
    },
    # Pending commissions past COMMISSION_REFUND_WINDOW_DAYS become approved.
    "affiliates-approve-matured-commissions": {
        "task": "affiliates.tasks.approve_matured_commissions",
        "schedule": 60 * 60,
    },
    # Cover thumbnails a lost message or dead worker left unmade (courses.tasks).
    "courses-sweep-stale-covers": {"task": "courses.tasks.sweep_stale_covers", "schedule": 60 * 60},
    # Chapters, lessons and instructors of every mapped LMS course, for the course pages.
    "lms-sync-course-outlines": {
        "task": "lms_sync.tasks.sync_course_outlines",
        "schedule": LMS_OUTLINE_SYNC_SECONDS,
    },
    # Approved, unused grant coupons past their expiry become expired (checkout checks the
    # expiry itself; this keeps the admin's status filter truthful).
    "grants-expire-coupons": {
        "task": "grants.tasks.expire_coupons",
        "schedule": 60 * 60,
    },
}
