"""The one module that talks HTTP to the Frappe LMS (REST API v1, token auth).

Every failure becomes an ``LmsError`` subclass that says what to do next: retry later
(transient; ``LmsUnreachable`` when no answer came at all), fix settings or the site (config;
``LmsUnknownSite`` when the server has no site for our Host) or fix the product's course mapping
(mapping; ``LmsCourseUnpublished`` while staff keep the LMS course unpublished).
Facts behind the choices: /work/shared/reference/frappe-lms-rest.md. No retries happen here;
callers retry, and must repeat the enrolment lookup before inserting again (``enrol`` does).

What Frappe itself refuses, live (frappe 15.44 + lms 2.61) with the recommended API user (System
Manager + Moderator): only a course that does not exist (417 LinkValidationError). A Moderator
may enrol into an unpublished, paid or self-learning-disabled course (200), so ``enrol`` checks
that the course is published before it inserts: a learner is never enrolled into a course staff
unpublished. (Without Moderator, Frappe also answers 417 ValidationError for unpublished, paid
and self-learning-disabled courses; that is a mapping error too.)

Suspension (a card dispute) is not a refund. Frappe has no "suspended" enrolment and no per-course
block: an ``LMS Enrollment`` row *is* the access, and disabling the learner's ``User`` would cut
every course they bought. So a suspension reads the enrolment's ``progress`` and
``current_lesson`` (``enrolment_state``), the caller keeps them on its own row, then deletes the
enrolment; a restore creates it again with both (``enrol(progress=..., current_lesson=...)``): a
privileged API user may set ``progress`` on insert, and the learner's per-lesson ``LMS Course
Progress`` rows survive the deletion, so the next lesson they finish recounts from there.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

ENROLLMENT = "LMS Enrollment"
# Whitelisted LMS methods behind the course page's outline (reference, section 9).
COURSE_OUTLINE = "lms.lms.utils.get_course_outline"
COURSE_DETAILS = "lms.lms.utils.get_course_details"
PAGE_SIZE = 500
# A list filter carries every member in the query string; 100 e-mails stay far below the
# 8 KB request-line limit of common proxies.
MEMBERS_PER_REQUEST = 100
MAX_DETAIL = 300


@dataclass(frozen=True)
class FrappeConfig:
    base_url: str
    api_key: str
    api_secret: str
    host_header: str | None = None  # the bench picks the site by Host; set it when the URL can't
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    send_welcome_email: bool = True


@dataclass(frozen=True)
class CourseContent:
    """What a storefront shows of an LMS course: chapters (each with its lessons, in course
    order) and instructors, all as plain text."""

    name: str
    title: str
    published: bool
    chapters: list[dict[str, Any]]
    instructors: list[dict[str, str]]


@dataclass(frozen=True)
class EnrolmentState:
    """What a learner keeps across a suspension: ``progress`` (0-100) and the lesson to resume."""

    progress: float
    current_lesson: str


class LmsError(Exception):
    """A failed LMS call that retrying will not fix. ``detail`` is short and safe to show staff:
    Frappe's exception class and human messages, never its traceback."""

    def __init__(
        self, detail: str, *, status: int | None = None, exc_type: str | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.exc_type = exc_type


class LmsTransientError(LmsError):
    """Frappe could not be reached, timed out, or answered 5xx/429: retry later."""


class LmsUnreachable(LmsTransientError):
    """No answer at all: the connection failed (refused, DNS, dropped) or timed out."""


class LmsConfigError(LmsError):
    """Wrong credentials, roles, URL or site (401, 403, unknown host, non-JSON answers)."""


class LmsUnknownSite(LmsConfigError):
    """The server answered 404 with an HTML page: it has no Frappe site for our Host header."""


class LmsMappingError(LmsError):
    """The LMS course is missing, or refused by the LMS (see the module docstring)."""


class LmsCourseUnpublished(LmsMappingError):
    """The LMS course exists but is not published: we do not enrol into it, though Frappe
    would let a Moderator do so."""


class LmsNotConfigured(LmsConfigError):
    """FRAPPE_URL, FRAPPE_API_KEY or FRAPPE_API_SECRET is empty."""


class FrappeClient:
    """Typed calls to the Frappe LMS. Holds one ``requests.Session``: use one client per thread."""

    def __init__(self, config: FrappeConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self._session = session or requests.Session()
        # Sent per request rather than set on the session, so a shared session never carries the
        # token to other hosts.
        self._headers = {
            "Authorization": f"token {config.api_key}:{config.api_secret}",
            "Accept": "application/json",
        }
        if config.host_header:
            self._headers["Host"] = config.host_header

    @classmethod
    def from_settings(cls) -> FrappeClient:
        from django.conf import settings

        names = ("FRAPPE_URL", "FRAPPE_API_KEY", "FRAPPE_API_SECRET")
        url, key, secret = (str(getattr(settings, name, "") or "") for name in names)
        missing = [name for name, value in zip(names, (url, key, secret), strict=True) if not value]
        if missing:
            raise LmsNotConfigured(f"{', '.join(missing)} not set")
        return cls(
            FrappeConfig(
                base_url=url,
                api_key=key,
                api_secret=secret,
                host_header=getattr(settings, "FRAPPE_HOST_HEADER", None) or None,
                connect_timeout=float(
                    getattr(settings, "FRAPPE_CONNECT_TIMEOUT", FrappeConfig.connect_timeout)
                ),
                read_timeout=float(
                    getattr(settings, "FRAPPE_READ_TIMEOUT", FrappeConfig.read_timeout)
                ),
                send_welcome_email=bool(
                    getattr(settings, "FRAPPE_SEND_WELCOME_EMAIL", FrappeConfig.send_welcome_email)
                ),
            )
        )

    def close(self) -> None:
        self._session.close()

    def explain(self, error: LmsError) -> str:
        """For operators: what failed (the network, the site, the credentials or Frappe itself)
        and which setting to look at, then Frappe's own short detail."""
        url = self.config.base_url
        site = self.config.host_header or urlsplit(url).hostname or url
        if isinstance(error, LmsUnreachable):
            return f"Could not reach Frappe at {url} (FRAPPE_URL): {error.detail}"
        if isinstance(error, LmsUnknownSite):
            return (
                f"{url} answered, but has no Frappe site {site!r}: {error.detail}. "
                "FRAPPE_HOST_HEADER (or the host in FRAPPE_URL) must be the site's name."
            )
        if error.status == 401:
            return (
                "Frappe refused the credentials (FRAPPE_API_KEY / FRAPPE_API_SECRET): "
                f"{error.detail}"
            )
        if error.status == 403:
            return (
                "Frappe ran the call as Guest or without the needed role: the Authorization "
                f"header did not reach it (a proxy in front of {url} dropping it?), or the API "
                f"user lacks System Manager + Moderator: {error.detail}"
            )
        if isinstance(error, LmsTransientError):
            return (
                f"Frappe at {url} answered with a server error: {error.detail}. Try again; if "
                "it persists, read the Frappe site's error log."
            )
        return f"Frappe at {url} gave an unexpected answer: {error.detail}"

    def check_credentials(self) -> str:
        """The API user's name; a cheap authenticated call."""
        response = self._send("GET", "/api/method/frappe.auth.get_logged_user")
        return str(_field(_expect(response, 200), "message"))

    def get_course(self, name: str) -> dict[str, Any]:
        response = self._send("GET", _doc_path("LMS Course", _course_name(name)))
        if _is_missing(response):
            raise LmsMappingError(
                f"LMS Course {name!r} does not exist", status=404, exc_type="DoesNotExistError"
            )
        return _doc(_expect(response, 200))

    def course_content(self, name: str) -> CourseContent:
        """The chapters, lessons and instructors of the LMS course ``name`` (three calls).

        ``get_course_outline`` answers ``[]`` for an unknown course, and ``get_course_details``
        fails with a 500 for one (when the caller may edit courses), so the course document
        is read first: a missing course is an ``LmsMappingError``, not an empty outline.
        """
        name = _course_name(name)
        self.get_course(name)
        query = {"course": name}
        details = _field(
            _expect(self._send("GET", f"/api/method/{COURSE_DETAILS}", params=query), 200),
            "message",
        )
        outline = _field(
            _expect(self._send("GET", f"/api/method/{COURSE_OUTLINE}", params=query), 200),
            "message",
        )
        if not isinstance(details, dict) or not isinstance(outline, list):
            raise LmsConfigError("Frappe answered the course outline in an unknown shape")
        chapters = [
            {
                "title": _plain(str(chapter.get("title") or "")),
                "lessons": [
                    {
                        "title": _plain(str(lesson.get("title") or "")),
                        "preview": bool(lesson.get("include_in_preview")),
                    }
                    for lesson in chapter.get("lessons") or []
                    if isinstance(lesson, dict)
                ],
            }
            for chapter in outline
            if isinstance(chapter, dict)
        ]
        instructors = [
            {
                "name": str(person.get("name") or ""),
                "full_name": _plain(str(person.get("full_name") or person.get("name") or "")),
            }
            for person in details.get("instructors") or []
            if isinstance(person, dict)
        ]
        return CourseContent(
            name=name,
            title=_plain(str(details.get("title") or "")),
            published=bool(details.get("published")),
            chapters=chapters,
            instructors=instructors,
        )

    def ensure_user(self, *, email: str, full_name: str = "") -> str:
        """Create the learner's User unless it exists; return its name (the lower-cased e-mail).

        Needed before enrolling because frappe 15 accepts an enrolment for a member with no User.
        """
        name = _user_name(email)
        response = self._send("GET", _doc_path("User", name))
        if response.status_code == 200:
            return str(_doc(response)["name"])
        if not _is_missing(response):
            raise _error(response)
        first, last = _split_name(full_name, name)
        response = self._send(
            "POST",
            "/api/resource/User",
            json_body={
                "email": email.strip(),
                "first_name": first,
                "last_name": last,
                "send_welcome_email": int(self.config.send_welcome_email),
                "user_type": "Website User",
                "roles": [{"role": "LMS Student"}],
            },
        )
        if response.status_code == 409 and _exc_type(response) == "DuplicateEntryError":
            return name  # created since we looked
        return str(_doc(_expect(response, 200))["name"])

    def find_enrollment(self, *, member: str, course: str) -> str | None:
        """Name of the oldest enrolment of ``member`` (a User name) in ``course``, or None."""
        rows = self._list_page(ENROLLMENT, _pair(member, course), ["name"], start=0, limit=1)
        return str(rows[0]["name"]) if rows else None

    def require_published(self, course: str) -> None:
        """``LmsCourseUnpublished`` unless the LMS course is published (``LmsMappingError`` when
        it does not exist)."""
        if not _cint(self.get_course(course).get("published")):
            raise LmsCourseUnpublished(
                f"the LMS course {course!r} is not published in Frappe", status=200
            )

    def enrol(
        self,
        *,
        email: str,
        full_name: str,
        course: str,
        progress: float | None = None,
        current_lesson: str = "",
    ) -> str:
        """Enrol the learner in ``course`` and return the enrolment name; safe to repeat.

        Refuses an unpublished course (``LmsCourseUnpublished``) before anything is written,
        unless the learner is enrolled already (then that enrolment is returned).
        ``progress`` and ``current_lesson`` restore a suspended enrolment (module docstring);
        a lesson deleted since is dropped rather than blocking the restore.

        Frappe 15 accepts a second enrolment for the same member and course and has no unique
        index on the pair, so this looks before it inserts. That is only safe when callers run at
        most one attempt at a time per (e-mail, course), e.g. under a lock on the Django row.
        """
        course = _course_name(course)
        # An enrolment made before staff unpublished the course stands: recorded, not waited on.
        existing = self.find_enrollment(member=_user_name(email), course=course)
        if existing:
            return existing
        self.require_published(course)
        member = self.ensure_user(email=email, full_name=full_name)
        body: dict[str, Any] = {"course": course, "member": member}
        if progress:
            body["progress"] = progress
        if current_lesson:
            body["current_lesson"] = current_lesson
        response = self._send("POST", _list_path(ENROLLMENT), json_body=body)
        if current_lesson and _exc_type(response) == "LinkValidationError":
            # A 417 wrote nothing; the lesson may have been deleted while access was suspended.
            del body["current_lesson"]
            response = self._send("POST", _list_path(ENROLLMENT), json_body=body)
        if response.status_code != 200:
            raise _error(response, rejected=LmsMappingError)
        return str(_doc(response)["name"])

    def enrolment_state(self, *, email: str, course: str) -> EnrolmentState | None:
        """Progress and lesson to resume of the learner's enrolment in ``course`` (of duplicate
        enrolments, the furthest), or None when there is none."""
        rows = self._list_all(
            ENROLLMENT,
            _pair(_user_name(email), _course_name(course)),
            ["name", "progress", "current_lesson"],
        )
        states = [
            EnrolmentState(
                progress=float(row.get("progress") or 0),
                current_lesson=str(row.get("current_lesson") or ""),
            )
            for row in rows
        ]
        return max(states, key=lambda state: state.progress, default=None)

    def unenrol(self, *, email: str, course: str) -> int:
        """Delete every enrolment of the learner in ``course``; return how many this call deleted.

        An enrolment that is already gone (404) counts as done.
        """
        rows = list(self._list_all(ENROLLMENT, _pair(_user_name(email), course), ["name"]))
        deleted = 0
        for row in rows:
            response = self._send("DELETE", _doc_path(ENROLLMENT, str(row["name"])))
            if response.status_code in (200, 202):
                deleted += 1
            elif not _is_missing(response):
                raise _error(response)
        return deleted

    def erase_user(self, *, email: str) -> str:
        """Remove the learner from the LMS: every enrolment, then the User itself.

        Returns ``deleted``, ``disabled`` (Frappe refuses to delete a User other records still
        link to, 417 LinkExistsError: it is disabled and its name fields blanked instead) or
        ``absent``. Safe to repeat.
        """
        name = _user_name(email)
        rows = list(self._list_all(ENROLLMENT, [["member", "=", name]], ["name"]))
        for row in rows:
            response = self._send("DELETE", _doc_path(ENROLLMENT, str(row["name"])))
            if response.status_code not in (200, 202) and not _is_missing(response):
                raise _error(response)
        response = self._send("DELETE", _doc_path("User", name))
        if response.status_code in (200, 202):
            return "deleted"
        if _is_missing(response):
            return "absent"
        if response.status_code != 417 or _exc_type(response) != "LinkExistsError":
            raise _error(response)
        response = self._send(
            "PUT",
            _doc_path("User", name),
            json_body={"enabled": 0, "first_name": "Deleted", "last_name": ""},
        )
        _expect(response, 200)
        return "disabled"

    def progress_for(self, *, course: str, members: Sequence[str]) -> dict[str, float]:
        """Progress (0-100) by lower-cased member, for members enrolled in ``course``.

        One list request per ``MEMBERS_PER_REQUEST`` members, never one per learner. Members
        without an enrolment are left out; of duplicate enrolments the highest progress wins.
        """
        wanted = sorted({_user_name(member) for member in members})
        progress: dict[str, float] = {}
        for start in range(0, len(wanted), MEMBERS_PER_REQUEST):
            chunk = wanted[start : start + MEMBERS_PER_REQUEST]
            filters = [["course", "=", course], ["member", "in", chunk]]
            for row in self._list_all(ENROLLMENT, filters, ["member", "progress"]):
                member = str(row["member"]).lower()
                progress[member] = max(progress.get(member, 0.0), float(row["progress"] or 0))
        return progress

    def enrollments_of(self, *, members: Sequence[str]) -> set[tuple[str, str]]:
        """Every (member, course) enrolment of these learners, in list requests of
        ``MEMBERS_PER_REQUEST`` members (reconciliation compares them with what we sold)."""
        wanted = sorted({_user_name(member) for member in members})
        pairs: set[tuple[str, str]] = set()
        for start in range(0, len(wanted), MEMBERS_PER_REQUEST):
            chunk = wanted[start : start + MEMBERS_PER_REQUEST]
            for row in self._list_all(ENROLLMENT, [["member", "in", chunk]], ["member", "course"]):
                pairs.add((str(row["member"]).lower(), str(row["course"])))
        return pairs

    def _list_all(
        self,
        doctype: str,
        filters: list[list[Any]],
        fields: list[str],
    ) -> Iterator[dict[str, Any]]:
        start = 0
        while True:
            rows = self._list_page(doctype, filters, fields, start=start, limit=PAGE_SIZE)
            yield from rows
            if len(rows) < PAGE_SIZE:
                return
            start += PAGE_SIZE

    def _list_page(
        self, doctype: str, filters: list[list[Any]], fields: list[str], *, start: int, limit: int
    ) -> list[dict[str, Any]]:
        params = {
            "filters": json.dumps(filters),
            "fields": json.dumps(fields),
            "order_by": "creation asc",
            "limit_start": start,
            "limit_page_length": limit,
        }
        rows = _field(_expect(self._send("GET", _list_path(doctype), params=params), 200), "data")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise LmsConfigError(f"Frappe answered the {doctype} list without a list", status=200)
        return rows

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> requests.Response:
        url = self.config.base_url.rstrip("/") + path
        try:
            return self._session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=self._headers,
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                allow_redirects=False,  # a redirect would turn a POST into a GET
            )
        except requests.Timeout as exc:
            raise LmsUnreachable(
                f"{method} {path}: no answer in time ({type(exc).__name__})"
            ) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise LmsUnreachable(
                f"{method} {path}: connection failed ({type(exc).__name__})"
            ) from exc
        except requests.RequestException as exc:
            raise LmsConfigError(
                f"{method} {path}: unusable request ({type(exc).__name__}); "
                "check FRAPPE_URL and the credentials"
            ) from exc


def _cint(value: Any) -> int:
    """Frappe's check fields: 0/1, sometimes sent as strings."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _user_name(email: str) -> str:
    name = email.strip().lower()
    if "@" not in name:
        raise ValueError(f"not an e-mail address: {email!r}")
    return name


def _course_name(course: str) -> str:
    """Frappe answers an enrolment without a course with a 500, so refuse it here."""
    name = course.strip()
    if not name:
        raise LmsMappingError("no LMS course name is mapped")
    return name


def _split_name(full_name: str, email: str) -> tuple[str, str]:
    first, _, last = " ".join(full_name.split()).partition(" ")
    return first or email.partition("@")[0], last


def _pair(member: str, course: str) -> list[list[Any]]:
    return [["member", "=", member], ["course", "=", course]]


def _list_path(doctype: str) -> str:
    return f"/api/resource/{quote(doctype, safe='')}"


def _doc_path(doctype: str, name: str) -> str:
    return f"{_list_path(doctype)}/{quote(name, safe='')}"


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _exc_type(response: requests.Response) -> str | None:
    exc_type = (_json_object(response) or {}).get("exc_type")
    return exc_type if isinstance(exc_type, str) else None


def _is_missing(response: requests.Response) -> bool:
    """A JSON 404 about a document; an HTML 404 means an unknown site instead."""
    return response.status_code == 404 and _exc_type(response) == "DoesNotExistError"


def _expect(response: requests.Response, status: int) -> requests.Response:
    if response.status_code != status:
        raise _error(response)
    return response


def _field(response: requests.Response, key: str) -> Any:
    body = _json_object(response)
    if body is None or key not in body:
        content_type = response.headers.get("Content-Type") or "no content type"
        raise LmsConfigError(
            f"HTTP {response.status_code}: expected JSON with {key!r} from "
            f"Frappe, got {content_type}",
            status=response.status_code,
        )
    return body[key]


def _doc(response: requests.Response) -> dict[str, Any]:
    doc = _field(response, "data")
    if not isinstance(doc, dict):
        raise LmsConfigError(
            "Frappe answered a document call without a document", status=response.status_code
        )
    return doc


def _plain(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", text)).split())


def _messages(body: dict[str, Any]) -> list[str]:
    """Human messages from ``_server_messages``: a JSON string of a list of JSON strings."""
    try:
        items = json.loads(body.get("_server_messages") or "[]")
    except (TypeError, ValueError):
        items = []
    texts = []
    for item in items if isinstance(items, list) else []:
        try:
            message = json.loads(item) if isinstance(item, str) else item
        except ValueError:
            message = item
        if isinstance(message, dict):
            message = message.get("message")
        text = _plain(message) if isinstance(message, str) else ""
        if text:
            texts.append(text)
    if not texts and isinstance(body.get("_error_message"), str):
        texts.append(_plain(body["_error_message"]))
    return texts


def _error(response: requests.Response, *, rejected: type[LmsError] = LmsError) -> LmsError:
    """Classify a failed answer; ``rejected`` is the class for 417 link/validation errors."""
    status = response.status_code
    transient = status in (408, 429) or status >= 500
    body = _json_object(response)
    if body is None:
        if status == 404:  # a bench answers an unknown Host with an HTML page
            page = _plain(response.text)[:120]
            return LmsUnknownSite(
                f"HTTP 404 with a non-JSON body ({page}): unknown site? "
                "Check FRAPPE_URL and FRAPPE_HOST_HEADER",
                status=status,
            )
        error_class = LmsTransientError if transient else LmsConfigError
        return error_class(f"HTTP {status} with a non-JSON body", status=status)
    exc_type = body.get("exc_type") if isinstance(body.get("exc_type"), str) else None
    head = f"HTTP {status} {exc_type}" if exc_type else f"HTTP {status}"
    messages = "; ".join(_messages(body))
    detail = f"{head}: {messages}" if messages else head
    if len(detail) > MAX_DETAIL:
        detail = detail[: MAX_DETAIL - 1] + "…"
    if transient:
        error_class = LmsTransientError
    elif status in (401, 403, 404):
        error_class = LmsConfigError
    elif status == 417 and exc_type in ("LinkValidationError", "ValidationError"):
        error_class = rejected
    else:
        error_class = LmsError
    return error_class(detail, status=status, exc_type=exc_type)
