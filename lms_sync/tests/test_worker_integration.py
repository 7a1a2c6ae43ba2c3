"""Sync jobs through a real Celery worker (prefork) and the Redis broker, against PostgreSQL.

The worker runs in its own process group, on a queue of its own, against the test database
(transactional tests, so it sees committed rows) and a fake Frappe LMS this test starts.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from common.testing.backends import worker_database_url
from enrollments.models import Enrollment
from enrollments.signals import enrollment_paid
from enrollments.tests.factories import EnrollmentFactory
from lms_sync import tasks
from lms_sync.models import LmsSyncJob
from maaledu.celery import app as celery_app

from .conftest import enrolment_posts, paid_job, reload

BASE_DIR = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
LEASE_SECONDS = 8  # the worker's LMS_SYNC_LEASE_SECONDS: short, so the test waits little
WAIT_SECONDS = 60

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not django_settings.REDIS_URL,
        reason="needs REDIS_URL: the Celery worker uses the real Redis broker",
    ),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="needs PostgreSQL or MongoDB: a worker cannot see SQLite's in-memory test database",
    ),
    pytest.mark.django_db(transaction=True),
]

SYNCED = LmsSyncJob.Status.SYNCED


def forget_queue(name: str) -> None:
    """Drop what Redis holds for our queue and workers: waiting messages, bindings (a killed
    worker leaves its control mailbox bound), and the unacked message of a worker we killed
    (kombu would restore it after the visibility timeout)."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        client.delete(name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
        for key in ("_kombu.binding.celery.pidbox", "_kombu.binding_permanent.celery.pidbox"):
            ours = [member for member in client.smembers(key) if name.encode() in member]
            if ours:
                client.srem(key, *ours)
        for tag, raw in client.hgetall("unacked").items():
            _message, exchange, routing_key = json.loads(raw)
            if name in (exchange, routing_key):
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


def signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(process.pid, signum)


@pytest.fixture
def queue() -> Iterator[str]:
    """This process publishes to a queue only our worker consumes, through the broker."""
    name = f"lms-sync-it-{uuid.uuid4().hex[:12]}"
    saved = celery_app.conf.task_always_eager, celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = name
    try:
        yield name
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = saved
        forget_queue(name)


class Workers:
    """Celery worker processes, each in its own process group (so the pool dies with it)."""

    def __init__(self, env: dict[str, str], queue: str, log_dir: Path) -> None:
        self.env, self.queue, self.log_dir = env, queue, log_dir
        self.started: list[subprocess.Popen] = []
        self.killed: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        number = len(self.started)
        with (self.log_dir / f"worker-{number}.log").open("wb") as output:
            process = subprocess.Popen(
                [
                    str(CELERY),
                    "-A",
                    "maaledu",
                    "worker",
                    "--pool=prefork",
                    "--concurrency=2",
                    "-Q",
                    self.queue,
                    "-n",
                    f"{self.queue}-{number}@%h",
                    "--loglevel=INFO",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker and its pool at once, as a crashed machine would."""
        self.killed.append(process)
        signal_group(process, signal.SIGKILL)
        process.wait(timeout=10)

    def wait_until(self, condition: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            died = [p for p in self.started if p not in self.killed and p.poll() is not None]
            if died or time.monotonic() > deadline:
                problem = "a worker exited" if died else "timed out"
                pytest.fail(f"{problem} waiting until {what}; output:\n{self.logs()[-4000:]}")
            time.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(
            log.read_text(errors="replace") for log in sorted(self.log_dir.glob("worker-*.log"))
        )

    def stop_all(self) -> None:
        for process in self.started:
            signal_group(process, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait(timeout=5)


@pytest.fixture
def workers(transactional_db, fake, queue, tmp_path) -> Iterator[Workers]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lms_sync.tests.worker_settings",
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "FRAPPE_URL": fake.url,
        "FRAPPE_API_KEY": "key",
        "FRAPPE_API_SECRET": "secret",
        "FRAPPE_HOST_HEADER": fake.site,
        "LMS_SYNC_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    started = Workers(env, queue, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def task_results(logs: str, task: str = "sync_job") -> list[str]:
    marker = f"Task lms_sync.tasks.{task}["
    return [
        line.rsplit(": ", 1)[-1].strip("'")
        for line in logs.splitlines()
        if marker in line and " succeeded in " in line
    ]


def test_paid_enrollment_announced_five_times_gets_one_job_synced_once_by_the_worker(
    fake, course, workers
):
    workers.start()
    enrollment = EnrollmentFactory(
        course=course, status=Enrollment.Status.PAID, paid_at=timezone.now()
    )
    fake.slow_seconds = 0.3  # each answer takes a while, so the pool's two processes overlap

    for _ in range(5):  # each announcement is one task; the worker creates the job once
        enrollment_paid.send(sender=Enrollment, enrollment_id=enrollment.pk)

    def results():
        return task_results(workers.logs(), "schedule_and_sync")

    workers.wait_until(lambda: len(results()) == 5, "5 tasks ran")
    assert sorted(results()) == ["not_claimed"] * 4 + ["synced"]
    [job] = LmsSyncJob.objects.filter(enrollment=enrollment)
    assert job.status == SYNCED
    assert job.attempts == 1
    assert len(enrolment_posts(fake)) == 1
    assert len(fake.enrollments) == 1


def test_a_worker_killed_mid_call_is_finished_by_the_sweeper_after_its_lease(fake, course, workers):
    first = workers.start()
    job = paid_job(course)
    fake.slow_seconds = 1.0  # Frappe takes the enrolment POST, then answers slowly

    tasks.sync_job.delay(job.pk)
    workers.wait_until(lambda: enrolment_posts(fake), "Frappe got the enrolment")
    workers.kill(first)  # before Frappe's answer arrives
    fake.slow_seconds = 0

    job = reload(job)
    assert job.status == LmsSyncJob.Status.IN_PROGRESS
    assert tasks.sweep_due_jobs() == 0  # the dead worker's lease still stands
    time.sleep(max(0.0, (job.lease_until - timezone.now()).total_seconds()) + 0.2)
    assert tasks.sweep_due_jobs() == 1

    workers.start()
    workers.wait_until(lambda: reload(job).status == SYNCED, "the job is synced")
    job = reload(job)
    assert job.attempts == 2
    assert len(enrolment_posts(fake)) == 1  # the second run found the first run's enrolment
    assert len(fake.enrollments) == 1
