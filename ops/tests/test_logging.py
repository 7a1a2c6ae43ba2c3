import logging
import sys

import pytest
from celery import shared_task
from celery.signals import before_task_publish

from common.logging import KeyValueFormatter, RequestIdFilter, mask_email, mask_emails
from common.logging import request_id_var as request_id
from courses.tests.factories import CourseFactory


@pytest.fixture
def request_lines():
    """The formatted lines of the ``maaledu.request`` logger, as the console handler writes them."""
    lines = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.addFilter(RequestIdFilter())
    handler.emit = lambda record: lines.append((record.levelno, KeyValueFormatter().format(record)))
    logger = logging.getLogger("maaledu.request")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.mark.django_db
def test_each_request_writes_one_line_with_route_status_duration_and_request_id(
    client, request_lines
):
    course = CourseFactory(slug="aws-solutions-architect")

    client.get(
        f"/courses/{course.slug}/?email=jane.doe@example.com&token=abc",
        headers={"X-Request-ID": "req-123"},
    )

    assert len(request_lines) == 1
    level, line = request_lines[0]
    assert level == logging.INFO
    assert "request_id=req-123 event=http.request method=GET route=courses:detail status=200" in (
        line
    )
    assert "duration_ms=" in line
    assert "jane" not in line and "token" not in line and "aws-solutions" not in line


def test_unmatched_paths_are_logged_without_the_path(client, request_lines):
    client.get("/.env")

    ((_, line),) = request_lines
    assert "route=<unmatched> status=404" in line
    assert ".env" not in line


def test_health_probes_are_logged_at_debug_so_info_stays_readable(client, request_lines):
    client.get("/healthz")

    assert [level for level, _ in request_lines] == [logging.DEBUG]


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("john@example.com", "j***@example.com"),
        (" Jane.Doe@Example.COM ", "j***@example.com"),
        ("jane%40example.com", "j***@example.com"),
        ("not-an-address", "***"),
        ("@example.com", "***"),
        ("", "***"),
    ],
)
def test_mask_email_keeps_the_first_letter_and_the_domain(email, masked):
    assert mask_email(email) == masked


def test_the_formatter_masks_any_email_that_reaches_a_log_line():
    logger = logging.getLogger("maaledu.tests.masking")
    try:
        raise ValueError("Key (email)=(jane.doe@example.com) already exists")
    except ValueError:
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            "event=test.failed buyer=%s",
            ("John.Smith@example.org",),
            exc_info=sys.exc_info(),
        )

    line = KeyValueFormatter().format(record)

    assert "buyer=j***@example.org" in line
    assert "(email)=(j***@example.com)" in line
    assert "John.Smith" not in line and "jane.doe" not in line
    assert mask_emails("no address here") == "no address here"


# --- The request id follows the work into Celery -----------------------------------------------


@shared_task
def _request_id_seen_by_task() -> str:
    return request_id.get()


def test_publishing_a_task_inside_a_request_puts_its_id_in_the_message_headers():
    headers = {}
    token = request_id.set("req-abc")
    try:
        before_task_publish.send(sender="any.task", body=(), headers=headers)
    finally:
        request_id.reset(token)
    outside = {}
    before_task_publish.send(sender="any.task", body=(), headers=outside)

    assert headers == {"request_id": "req-abc"}
    assert outside == {}


def test_a_task_runs_with_the_request_id_from_its_message_and_clears_it_afterwards():
    seen = _request_id_seen_by_task.apply(headers={"request_id": "req-abc"}).get()

    assert seen == "req-abc"
    assert request_id.get() == "-"
