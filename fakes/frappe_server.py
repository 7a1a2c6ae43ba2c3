"""A fake Frappe 15 + LMS site speaking REST API v1, for tests and local demos.

It follows /work/shared/reference/frappe-lms-rest.md, traps included: a second POST of the same
member and course creates a second enrolment, an enrolment for a member with no User is
accepted, and the API user holds the recommended roles (System Manager + Moderator), so it may
enrol into an unpublished or paid course (pass ``roles`` without Moderator for the 417s).
Standard library only, so it runs without Django:

    python -m fakes.frappe_server --port 8001 --api-key k --api-secret s --course intro-to-django
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import html
import json
import random
import re
import socket
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .latency import Latency

TRACEBACK_HEAD = "Traceback (most recent call last):"
# Roles that skip the LMS "self learning, published, paid" enrolment rules; System Manager does not.
ENROLMENT_BYPASS_ROLES = frozenset({"Moderator", "Course Creator", "Batch Evaluator"})
PROGRESS_WRITE_ROLES = ENROLMENT_BYPASS_ROLES | {"System Manager"}
# The integration user the reference recommends (the LMS adds LMS Student to every new User).
RECOMMENDED_ROLES = ("System Manager", "Moderator", "LMS Student")

_STANDARD_FIELDS = ("name", "owner", "creation", "modified", "modified_by", "docstatus", "idx")
_FIELDS = {
    "User": (
        "email",
        "first_name",
        "last_name",
        "full_name",
        "username",
        "user_type",
        "enabled",
        "send_welcome_email",
    ),
    "LMS Course": (
        "title",
        "short_introduction",
        "description",
        "published",
        "paid_course",
        "disable_self_learning",
        "upcoming",
        "status",
    ),
    "Course Lesson": ("title", "course", "chapter", "include_in_preview"),
    "LMS Enrollment": (
        "course",
        "member",
        "member_name",
        "member_username",
        "member_type",
        "role",
        "progress",
        "current_lesson",
        "payment",
        "purchased_certificate",
        "certificate",
        "enrollment_from_batch",
    ),
}
_NAME_CHARS = string.ascii_lowercase + string.digits
# Whitelisted with allow_guest (lms/lms/utils.py); what they answer a Guest while the site's
# LMS Settings do not allow guest access.
_GUEST_METHODS: dict[str, Any] = {
    "lms.lms.utils.get_course_outline": [],
    "lms.lms.utils.get_course_details": {},
}
_EMAIL_ALERT = "Please setup default outgoing Email Account from Settings &gt; Email Account"


def _server_messages(*messages: dict[str, Any]) -> str:
    """Frappe's ``_server_messages``: a JSON string of a list of JSON strings."""
    return json.dumps([json.dumps(message) for message in messages])


class FrappeError(Exception):
    """A Frappe exception, rendered the way frappe 15's /api handler renders it."""

    def __init__(
        self,
        status: int,
        exc_type: str,
        message: str | None = None,
        *,
        exception: str | None = None,
        exc_source: str | None = None,
    ) -> None:
        super().__init__(message or exc_type)
        self.status = status
        self.exc_type = exc_type
        self.message = message
        base = f"frappe.exceptions.{exc_type}"
        self.exception = exception or (f"{base}: {message}" if message else base)
        self.exc_source = exc_source

    def body(self) -> dict[str, Any]:
        traceback = (
            f'{TRACEBACK_HEAD}\n  File "apps/frappe/frappe/app.py", line 114, in '
            f"application\n    response = frappe.api.handle(request)\n{self.exception}\n"
        )
        body: dict[str, Any] = {
            "exception": self.exception,
            "exc_type": self.exc_type,
            "exc": json.dumps([traceback]),
        }
        if self.message is not None:
            body["_server_messages"] = _server_messages(
                {
                    "message": self.message,
                    "title": "Message",
                    "indicator": "red",
                    "raise_exception": 1,
                }
            )
        if self.exc_source:
            body["_exc_source"] = self.exc_source
        return body


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # percent-decoded: "/api/resource/LMS Enrollment"
    query: dict[str, str]
    json: Any


@dataclass
class _Failure:
    status: int
    remaining: int
    path_contains: str | None


def _nginx_page(status: int) -> str:
    title = f"{status} {HTTPStatus(status).phrase}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1>"
        "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


def _werkzeug_404(description: str) -> str:
    return (
        "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
        f"<p>{description}</p>\n"
    )


def _cint(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _norm(value: Any) -> float | str:
    """Compare like the database would: numbers as numbers, None as the empty string."""
    if isinstance(value, bool | int | float):
        return float(value)
    text = "" if value is None else str(value)
    return float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else text


def _sort_key(value: Any) -> tuple[int, float | str]:
    normed = _norm(value)
    return (0, normed) if isinstance(normed, float) else (1, normed)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]


def _like(value: Any, pattern: Any) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(pattern))
    return re.fullmatch(regex, str(value or ""), re.IGNORECASE | re.DOTALL) is not None


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: _norm(a) == _norm(b),
    "!=": lambda a, b: _norm(a) != _norm(b),
    "in": lambda a, b: _norm(a) in [_norm(v) for v in _as_list(b)],
    "not in": lambda a, b: _norm(a) not in [_norm(v) for v in _as_list(b)],
    "like": _like,
    "not like": lambda a, b: not _like(a, b),
    ">": lambda a, b: _norm(a) > _norm(b),
    "<": lambda a, b: _norm(a) < _norm(b),
    ">=": lambda a, b: _norm(a) >= _norm(b),
    "<=": lambda a, b: _norm(a) <= _norm(b),
}


def _conditions(filters: Any) -> list[tuple[str, str, Any]]:
    """Frappe filters: ``[[field, op, value], ...]`` or ``{field: value | [op, value]}``."""
    if isinstance(filters, dict):
        filters = [
            [key, *(value if isinstance(value, list) and len(value) == 2 else ["=", value])]
            for key, value in filters.items()
        ]
    if not isinstance(filters, list):
        raise FrappeError(417, "ValidationError", f"Invalid filters: {filters}")
    conditions = []
    for item in filters:
        if isinstance(item, list) and len(item) == 4:  # [doctype, field, op, value]
            item = item[1:]
        if not (isinstance(item, list) and len(item) == 3 and str(item[1]).lower() in _OPERATORS):
            raise FrappeError(417, "ValidationError", f"Invalid filter: {item}")
        conditions.append((str(item[0]), str(item[1]).lower(), item[2]))
    return conditions


def _json_param(query: dict[str, str], key: str, default: Any) -> Any:
    raw = query.get(key)
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise FrappeError(
            500, "JSONDecodeError", exception=f"json.decoder.JSONDecodeError: {exc}"
        ) from None


def _find_key(records: dict[str, dict[str, Any]], name: str) -> str | None:
    """Names match case-insensitively, as they do under MariaDB's default collation."""
    if name in records:
        return name
    return next((key for key in records if key.lower() == name.lower()), None)


class FakeFrappe:
    """One fake Frappe site. State is plain dicts; mutate it only while no request is running.

    Failure controls: ``fail_next`` (5xx/429 bodies as nginx or frappe send them), ``down`` (drop
    every connection without an answer) and ``slow_seconds`` (the request is processed, then the
    answer waits: a client that times out cannot tell whether its POST happened).
    """

    def __init__(
        self,
        api_key: str = "key",
        api_secret: str = "secret",  # noqa: S107 (a fake)
        site: str = "lms.test",
        *,
        api_user: str = "lms-integration@example.com",
        roles: Iterable[str] = RECOMMENDED_ROLES,
        bind: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
        latency: Latency | None = None,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.site = site.lower()
        self.api_user = api_user
        self.roles = frozenset(roles)
        self.verbose = verbose
        self.users: dict[str, dict[str, Any]] = {}
        self.enrollments: dict[str, dict[str, Any]] = {}
        self.courses: dict[str, dict[str, Any]] = {}
        self.chapters: dict[str, dict[str, Any]] = {}  # Course Chapter
        self.lessons: dict[str, dict[str, Any]] = {}  # Course Lesson
        # LMS Settings "allow_guest_access": off, so Guest calls of the outline methods get
        # an empty answer, as on a default site.
        self.allow_guest_access = False
        self.down = False
        self.slow_seconds = 0.0
        # Off unless given: each answer then waits a draw of the model, as the real site's would.
        self.latency = latency
        self._delay = latency.sampler() if latency else None
        self._sleep = time.sleep
        self._bind = bind
        self._port = port
        self._lock = threading.RLock()
        self._requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._connections: set[socket.socket] = set()
        self._clock = datetime(2026, 1, 1, 9, 0, 0)
        self._random = random.Random()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeFrappe:
        self._server = _Server((self._bind, self._port), _Handler, self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-frappe",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections, so later calls are refused."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeFrappe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._bind in ("", "0.0.0.0") else self._bind
        return f"http://{host}:{self._port}"

    # -- test controls --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def fail_next(
        self, status: int = 500, count: int = 1, path_contains: str | None = None
    ) -> None:
        """Answer the next ``count`` requests (whose decoded path contains ``path_contains``)
        with ``status``: 500 as a frappe traceback JSON, anything else as an nginx HTML page."""
        with self._lock:
            self._failures.append(_Failure(status, count, path_contains))

    def add_course(
        self,
        name: str,
        published: bool = True,
        paid: bool = False,
        *,
        title: str | None = None,
        disable_self_learning: bool = False,
    ) -> None:
        with self._lock:
            title = title or name.replace("-", " ").title()
            self.courses[name] = self._new_doc(
                name,
                title=title,
                short_introduction=f"An introduction to {title}.",
                description=f"<p>{title}</p>",
                published=int(published),
                paid_course=int(paid),
                disable_self_learning=int(disable_self_learning),
                upcoming=0,
                status="Approved" if published else "In Progress",
                chapters=[],  # Chapter Reference rows: {"chapter": <Course Chapter name>, "idx"}
                instructors=[],  # Course Instructor rows: {"instructor": <User name>, "idx"}
            )

    def add_lesson(self, name: str, course: str, title: str | None = None) -> None:
        """A ``Course Lesson`` (what an enrolment's ``current_lesson`` links to)."""
        with self._lock:
            self.lessons[name] = self._new_doc(name, title=title or name, course=course)

    def add_chapter(
        self, course: str, title: str, lessons: Iterable[str | tuple[str, bool]] = ()
    ) -> str:
        """A Course Chapter with its lessons (a title, or (title, include_in_preview)), linked
        from the course's ``chapters`` table and the chapter's ``lessons`` table, as a course
        author's edits leave them (inserting the documents alone would not show them)."""
        with self._lock:
            doc = self.courses[course]
            name = f"{len(self.chapters) + 1:04d} {title}"
            chapter = self._new_doc(
                name, title=title, course=course, is_scorm_package=0, lessons=[]
            )
            self.chapters[name] = chapter
            doc["chapters"].append({"chapter": name, "idx": len(doc["chapters"]) + 1})
            for lesson in lessons:
                lesson_title, preview = lesson if isinstance(lesson, tuple) else (lesson, False)
                self.add_chapter_lesson(name, lesson_title, include_in_preview=preview)
            doc["modified"] = self._now()
            return name

    def add_chapter_lesson(
        self, chapter: str, title: str, *, include_in_preview: bool = False
    ) -> str:
        """A Course Lesson at the end of ``chapter``'s ``lessons`` table."""
        with self._lock:
            parent = self.chapters[chapter]
            name = f"{len(self.lessons) + 1:04d} {title}"
            self.lessons[name] = self._new_doc(
                name,
                title=title,
                chapter=chapter,
                course=parent["course"],
                include_in_preview=int(include_in_preview),
                youtube=None,
                quiz_id=None,
                body="",
            )
            parent["lessons"].append({"lesson": name, "idx": len(parent["lessons"]) + 1})
            return name

    def rename_lesson(self, lesson: str, title: str) -> None:
        with self._lock:
            self.lessons[lesson].update(title=title, modified=self._now())

    def add_instructor(self, course: str, email: str, full_name: str) -> str:
        """Make ``email`` a User (if needed) and an instructor of ``course``."""
        name = email.strip().lower()
        with self._lock:
            if name not in self.users:
                self.add_user(email, full_name)
            rows = self.courses[course]["instructors"]
            rows.append({"instructor": name, "idx": len(rows) + 1})
        return name

    def add_user(self, email: str, full_name: str = "") -> str:
        first, _, last = full_name.partition(" ")
        name = email.strip().lower()
        with self._lock:
            self.users[name] = self._user_doc(name, email.strip(), first or name, last, 0, [])
        return name

    def add_enrollment(self, member: str, course: str, progress: float = 0.0) -> str:
        """Store an enrolment directly, skipping every check (e.g. to seed duplicates)."""
        with self._lock:
            return self._store_enrollment(member, course, progress)

    def set_progress(
        self, member: str, course: str, value: float, current_lesson: str | None = None
    ) -> None:
        """What the learner finishing lessons does: ``progress`` and the next lesson move."""
        with self._lock:
            matches = [
                doc
                for doc in self.enrollments.values()
                if doc["member"] == member and doc["course"] == course
            ]
            if not matches:
                raise KeyError((member, course))
            for doc in matches:
                doc.update(progress=float(value), modified=self._now())
                if current_lesson is not None:
                    doc["current_lesson"] = current_lesson

    # -- request handling -----------------------------------------------------------------------

    def _dispatch(
        self,
        method: str,
        raw_path: str,
        headers: Any,
        raw_body: bytes,
    ) -> tuple[int, dict[str, Any] | str]:
        split = urlsplit(raw_path)
        segments = [unquote(part) for part in split.path.strip("/").split("/")]
        query = {
            key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()
        }
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        path = "/" + "/".join(segments)
        with self._lock:
            self._requests.append(RecordedRequest(method, path, query, body))
            failure = self._take_failure(path)
        if failure == 500:
            return 500, FrappeError(
                500,
                "OperationalError",
                exception=(
                    "pymysql.err.OperationalError: (2013, 'Lost connection to MySQL server during "
                    "query')"
                ),
            ).body()
        if failure:
            return failure, _nginx_page(failure)
        host = (headers.get("Host") or "").partition(":")[0].lower()
        if host != self.site:
            return 404, _werkzeug_404(f"{host} does not exist")
        try:
            user = self._authenticate(headers.get("Authorization"))
            with self._lock:
                return self._route(method, segments, query, body, user)
        except FrappeError as err:
            return err.status, err.body()

    def _take_failure(self, path: str) -> int | None:
        for failure in self._failures:
            if failure.path_contains is None or failure.path_contains in path:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return failure.status
        return None

    def _authenticate(self, header: str | None) -> str:
        """Frappe 15: only a two-part header is checked; anything else runs as Guest."""
        parts = (header or "").split(" ")
        if len(parts) != 2:
            return "Guest"
        scheme, credentials = parts[0].lower(), parts[1]
        if scheme == "basic":
            try:
                credentials = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                credentials = ""
        elif scheme != "token":
            credentials = ""
        if credentials != f"{self.api_key}:{self.api_secret}":
            raise FrappeError(401, "AuthenticationError")
        return self.api_user

    def _route(
        self, method: str, segments: list[str], query: dict[str, str], body: Any, user: str
    ) -> tuple[int, dict[str, Any] | str]:
        if method == "GET" and segments[:2] == ["lms", "courses"] and len(segments) == 3:
            return self._course_page(segments[2])
        if segments[:2] == ["api", "method"] and len(segments) == 3:
            return self._call_method(segments[2], query, user)
        if segments[:2] != ["api", "resource"] or len(segments) not in (3, 4):
            return 404, _werkzeug_404("Page not found")
        doctype = segments[2]
        records = {
            "User": self.users,
            "LMS Course": self.courses,
            "Course Lesson": self.lessons,
            "LMS Enrollment": self.enrollments,
        }.get(doctype)
        if records is None:
            raise FrappeError(404, "DoesNotExistError", f"DocType {doctype} not found")
        if user == "Guest":
            raise FrappeError(
                403,
                "PermissionError",
                "User Guest does not have doctype access via "
                f"role permission for document {doctype}",
            )
        name = segments[3] if len(segments) == 4 else None
        if name is None and method == "GET":
            return 200, {"data": self._list(doctype, records, query)}
        if name is None and method == "POST" and doctype == "User":
            return self._insert_user(body if isinstance(body, dict) else {})
        if name is None and method == "POST" and doctype == "LMS Enrollment":
            return self._insert_enrollment(body if isinstance(body, dict) else {})
        if name is not None and method == "GET":
            key = _find_key(records, name)
            if key is None:
                raise FrappeError(404, "DoesNotExistError", f"{doctype} {name} not found")
            return 200, {"data": {**records[key], "doctype": doctype}}
        if name is not None and method == "DELETE" and doctype == "LMS Enrollment":
            key = _find_key(records, name)
            if key is None:
                raise FrappeError(404, "DoesNotExistError")
            del records[key]
            return 202, {"data": "ok"}
        if name is not None and doctype == "User" and method in ("DELETE", "PUT"):
            return self._change_user(method, name, body if isinstance(body, dict) else {})
        return 405, f"<p>{method} on {doctype} is not implemented by the fake</p>"

    def _change_user(self, method: str, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        """DELETE (refused while enrolments link to the user, as Frappe does) or PUT a User."""
        key = _find_key(self.users, name)
        if key is None:
            raise FrappeError(404, "DoesNotExistError", f"User {name} not found")
        if method == "PUT":
            user = self.users[key]
            for field in ("enabled", "first_name", "last_name"):
                if field in body:
                    user[field] = body[field]
            user["full_name"] = " ".join(
                part for part in (user.get("first_name"), user.get("last_name")) if part
            )
            user["modified"] = self._now()
            return 200, {"data": {**user, "doctype": "User"}}
        if any(doc.get("member") == key for doc in self.enrollments.values()):
            raise FrappeError(
                417,
                "LinkExistsError",
                f"Cannot delete or cancel because User {key} is linked with LMS Enrollment. "
                "You can disable this User instead of deleting it.",
            )
        del self.users[key]
        return 202, {"data": "ok"}

    def _call_method(
        self, method_name: str, query: dict[str, str], user: str
    ) -> tuple[int, dict[str, Any]]:
        if method_name in _GUEST_METHODS:
            if user == "Guest" and not self.allow_guest_access:
                return 200, {"message": _GUEST_METHODS[method_name]}
            if method_name == "lms.lms.utils.get_course_outline":
                return 200, {"message": self._course_outline(query.get("course") or "")}
            return 200, {"message": self._course_details(query.get("course") or "", user)}
        if method_name == "lms.lms.utils.get_chapters":
            raise FrappeError(
                403,
                "PermissionError",
                (
                    "<details><summary>You are not permitted to access this resource.</summary>"
                    f"Function <strong>{method_name}</strong> is not whitelisted.</details>"
                ),
            )
        if method_name != "frappe.auth.get_logged_user":
            raise FrappeError(
                404, "DoesNotExistError", f"Method {method_name} is not implemented by the fake"
            )
        if user == "Guest":
            raise FrappeError(
                403,
                "PermissionError",
                (
                    "<details><summary>You are not permitted to access this resource.</summary>"
                    f"Function <strong>{method_name}</strong> is not whitelisted.</details>"
                ),
            )
        return 200, {"message": user}

    def _course_page(self, course: str) -> tuple[int, str]:
        """The learner's course page (``/lms/courses/<name>``, a single-page app on a real
        site): here a plain page with the outline, so a demo's "Start learning" link lands."""
        doc = self.courses.get(course)
        if doc is None:
            return 404, _werkzeug_404("Page not found")
        chapters = "".join(
            f"<li>{html.escape(chapter['title'])}<ol>"
            + "".join(f"<li>{html.escape(lesson['title'])}</li>" for lesson in chapter["lessons"])
            + "</ol></li>"
            for chapter in self._course_outline(course)
        )
        title = html.escape(doc["title"])
        return 200, (
            f"<!doctype html>\n<html lang=en>\n<title>{title} · Fake Frappe LMS</title>\n"
            f"<h1>{title}</h1>\n<p>This is the fake Frappe LMS of the MaalEdu demo: a real site "
            f"shows the course's lessons here.</p>\n<ol>{chapters}</ol>\n"
        )

    def _course_outline(self, course: str) -> list[dict[str, Any]]:
        """lms 2.61 ``get_course_outline``: the course's Chapter Reference rows in order, each
        chapter with its Lesson Reference rows; ``[]`` for an unknown course."""
        doc = self.courses.get(course)
        outline = []
        for reference in sorted((doc or {}).get("chapters", []), key=lambda row: row["idx"]):
            chapter = self.chapters[reference["chapter"]]
            lessons = []
            for row in sorted(chapter["lessons"], key=lambda row: row["idx"]):
                lesson = self.lessons[row["lesson"]]
                lessons.append(
                    {
                        "name": lesson["name"],
                        "title": lesson["title"],
                        "number": f"{reference['idx']}-{row['idx']}",
                        "include_in_preview": lesson["include_in_preview"],
                        "icon": "icon-list",
                        "youtube": lesson["youtube"],
                        "quiz_id": lesson["quiz_id"],
                        "is_complete": 0,
                    }
                )
            outline.append(
                {
                    "name": chapter["name"],
                    "title": chapter["title"],
                    "is_scorm_package": chapter["is_scorm_package"],
                    "launch_file": None,
                    "scorm_package": None,
                    "idx": reference["idx"],
                    "lessons": lessons,
                }
            )
        return outline

    def _course_details(self, course: str, user: str) -> dict[str, Any]:
        """lms 2.61 ``get_course_details``. An unknown course crashes it for a caller who may
        edit courses (it reads fields of ``None``) and is ``{}`` for anyone else; so is an
        unpublished course for a caller who may not edit it."""
        may_edit = bool(self.roles & {"Moderator", "Course Creator"})
        doc = self.courses.get(course)
        if doc is None and may_edit:
            raise FrappeError(
                500,
                "AttributeError",
                exception="AttributeError: 'NoneType' object has no attribute 'name'",
            )
        if doc is None or (not doc["published"] and not may_edit):
            return {}
        instructors = []
        for row in sorted(doc["instructors"], key=lambda row: row["idx"]):
            person = self.users.get(row["instructor"], {})
            instructors.append(
                {
                    "name": row["instructor"],
                    "username": person.get("username"),
                    "full_name": person.get("full_name") or row["instructor"],
                    "user_image": None,
                    "first_name": person.get("first_name"),
                    "last_name": person.get("last_name"),
                    "bio": None,
                }
            )
        fields = ("name", "title", "short_introduction", "description", "published", "upcoming")
        lessons = sum(len(self.chapters[ref["chapter"]]["lessons"]) for ref in doc["chapters"])
        return {
            **{field: doc.get(field) for field in fields},
            "image": None,
            "video_link": None,
            "tags": None,
            "category": None,
            "paid_course": doc["paid_course"],
            "disable_self_learning": doc["disable_self_learning"],
            "lessons": lessons,
            "enrollments": 0,
            "rating": 0,
            "instructors": instructors,
            "membership": None,
        }

    def _list(
        self,
        doctype: str,
        records: dict[str, dict[str, Any]],
        query: dict[str, str],
    ) -> list[dict[str, Any]]:
        fields = _json_param(query, "fields", ["name"])
        conditions = _conditions(_json_param(query, "filters", []))
        known = {*_STANDARD_FIELDS, *_FIELDS[doctype], "*"}
        for field in [*fields, *(condition[0] for condition in conditions)]:
            if field not in known:
                raise FrappeError(
                    500,
                    "OperationalError",
                    exception=(
                        f"pymysql.err.OperationalError: (1054, \"Unknown column '{field}' in "
                        "'field list'\")"
                    ),
                )
        rows = [
            doc
            for doc in records.values()
            if all(_OPERATORS[op](doc.get(field), value) for field, op, value in conditions)
        ]
        order_field, _, direction = (query.get("order_by") or "modified desc").partition(" ")
        rows.sort(
            key=lambda doc: _sort_key(doc.get(order_field)),
            reverse=direction.strip().lower() == "desc",
        )
        start = _cint(query.get("limit_start"))
        length = _cint(query.get("limit_page_length", query.get("limit", 20)))
        page = rows[start : start + length] if length else rows[start:]
        if "*" in fields:
            return [dict(doc) for doc in page]
        return [{field: doc.get(field) for field in fields} for doc in page]

    def _insert_user(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        email = str(body.get("email") or "").strip()
        if not email:
            raise FrappeError(417, "MandatoryError", "Error: Value missing for User: Email")
        if not body.get("first_name"):
            raise FrappeError(417, "MandatoryError", "Error: Value missing for User: First Name")
        name = email.lower()
        if name in self.users:
            raise FrappeError(
                409, "DuplicateEntryError", f"User <strong>{name}</strong> already exists"
            )
        roles = [role for role in body.get("roles") or [] if isinstance(role, dict)]
        welcome = _cint(body.get("send_welcome_email", 1))
        doc = self._user_doc(
            name, email, str(body["first_name"]), str(body.get("last_name") or ""), welcome, roles
        )
        self.users[name] = doc
        response: dict[str, Any] = {"data": {**doc, "doctype": "User"}}
        if welcome:  # the live site had no outgoing mail account
            response["_server_messages"] = _server_messages(
                {"message": _EMAIL_ALERT, "title": "Message", "indicator": "orange", "alert": 1}
            )
        return 200, response

    def _insert_enrollment(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Frappe link checks, then the LMS before_insert, then mandatory fields."""
        course, member = body.get("course"), body.get("member")
        course_key = _find_key(self.courses, str(course)) if course else None
        if course and course_key is None:
            raise FrappeError(417, "LinkValidationError", f"Could not find Course: {course}")
        if body.get("payment"):
            raise FrappeError(
                417, "LinkValidationError", f"Could not find Payment: {body['payment']}"
            )
        lesson = body.get("current_lesson")
        if lesson and _find_key(self.lessons, str(lesson)) is None:
            raise FrappeError(
                417, "LinkValidationError", f"Could not find Current Lesson: {lesson}"
            )
        # Trap: frappe 15 does not report a missing Member link (it has fetched fields).
        if course_key is None:
            raise FrappeError(
                500,
                "AttributeError",
                exception=(
                    "AttributeError: 'NoneType' object has no attribute 'disable_self_learning'"
                ),
            )
        self._check_eligibility(self.courses[course_key])
        if not member:
            raise FrappeError(
                417, "MandatoryError", "Error: Value missing for LMS Enrollment: Member"
            )
        # Trap: frappe 15's duplicate check never matches during insert, so none is made here.
        may_set_progress = self.roles & PROGRESS_WRITE_ROLES
        progress = float(body.get("progress") or 0) if may_set_progress else 0.0
        name = self._store_enrollment(str(member), course_key, progress)
        self.enrollments[name]["current_lesson"] = lesson or None
        return 200, {"data": {**self.enrollments[name], "doctype": "LMS Enrollment"}}

    def _check_eligibility(self, course: dict[str, Any]) -> None:
        if self.roles & ENROLMENT_BYPASS_ROLES:
            return
        if course["disable_self_learning"]:
            message = (
                "You cannot enroll in this course as self-learning is disabled. "
                "Please contact the Administrator."
            )
        elif not course["published"]:
            message = "You cannot enroll in an unpublished course."
        elif course["paid_course"]:
            message = "You need to complete the payment for this course before enrolling."
        else:
            return
        raise FrappeError(417, "ValidationError", message, exc_source="lms (app)")

    # -- documents ------------------------------------------------------------------------------

    def _now(self) -> str:
        self._clock += timedelta(seconds=1)
        return self._clock.strftime("%Y-%m-%d %H:%M:%S.%f")

    def _new_doc(self, name: str, **fields: Any) -> dict[str, Any]:
        now = self._now()
        return {
            "name": name,
            "owner": self.api_user,
            "creation": now,
            "modified": now,
            "modified_by": self.api_user,
            "docstatus": 0,
            "idx": 0,
            **fields,
        }

    def _user_doc(
        self,
        name: str,
        email: str,
        first: str,
        last: str,
        welcome: int,
        roles: list[dict[str, Any]],
    ) -> dict[str, Any]:
        if not any(role.get("role") == "LMS Student" for role in roles):
            roles = [*roles, {"role": "LMS Student"}]  # an LMS hook adds it to every new User
        return self._new_doc(
            name,
            email=email,
            first_name=first,
            last_name=last,
            full_name=" ".join(part for part in (first, last) if part),
            username=re.sub(r"[^a-z0-9]", "", name),
            user_type="Website User",
            enabled=1,
            send_welcome_email=welcome,
            roles=roles,
        )

    def _store_enrollment(self, member: str, course: str, progress: float) -> str:
        name = "".join(self._random.choices(_NAME_CHARS, k=10))
        while name in self.enrollments:
            name = "".join(self._random.choices(_NAME_CHARS, k=10))
        user = self.users.get(member.lower(), {})
        doc = self._new_doc(
            name,
            course=course,
            member=member,
            member_name=user.get("full_name"),
            member_username=user.get("username"),
            member_type="Student",
            role="Member",
            progress=float(progress),
            current_lesson=None,
            payment=None,
            purchased_certificate=0,
            certificate=None,
            enrollment_from_batch=None,
        )
        doc["owner"] = member
        self.enrollments[name] = doc
        return name


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: FakeFrappe
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.fake.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 60

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        fake = self.server.fake
        raw_body = self.rfile.read(_cint(self.headers.get("Content-Length")))
        if fake.down:
            self.close_connection = True  # no answer at all: the client sees a dropped connection
            return
        status, payload = fake._dispatch(self.command, self.path, self.headers, raw_body)
        if fake.slow_seconds:
            time.sleep(fake.slow_seconds)
        if fake._delay is not None:
            fake._sleep(fake._delay())
        if isinstance(payload, str):
            data, content_type = payload.encode(), "text/html; charset=utf-8"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up waiting (read timeout)
            self.close_connection = True

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(fmt, *args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a fake Frappe LMS site in the foreground.")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", default="key")
    parser.add_argument("--api-secret", default="secret")
    parser.add_argument(
        "--site",
        default="lms.test",
        help="Host header the site answers to (use 127.0.0.1 to need no override)",
    )
    parser.add_argument("--course", action="append", default=[], help="published, free course")
    parser.add_argument("--unpublished-course", action="append", default=[])
    parser.add_argument("--paid-course", action="append", default=[])
    parser.add_argument(
        "--no-moderator",
        action="store_true",
        help="API user without Moderator: unpublished/paid courses are refused with 417",
    )
    parser.add_argument("--latency", default="off", help='answer delay: "300" or "300,p99=900"')
    args = parser.parse_args(argv)
    roles = ["System Manager", "LMS Student", *([] if args.no_moderator else ["Moderator"])]
    fake = FakeFrappe(
        args.api_key,
        args.api_secret,
        args.site,
        roles=roles,
        bind=args.bind,
        port=args.port,
        verbose=True,
        latency=Latency.parse(args.latency),
    )
    for course in args.course:
        fake.add_course(course)
    for course in args.unpublished_course:
        fake.add_course(course, published=False)
    for course in args.paid_course:
        fake.add_course(course, paid=True)
    fake.start()
    print(
        f"Fake Frappe LMS on {fake.url} for site {fake.site!r} (send 'Host: {fake.site}', "
        f"i.e. FRAPPE_HOST_HEADER={fake.site}); courses: {sorted(fake.courses)}",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
