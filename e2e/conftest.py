"""Browser end-to-end tests: the session's stack (``e2e.stack``), Chromium and screenshots.

Skipped with a reason when ``REDIS_URL`` is unset (the worker needs a broker) or Debian's
Chromium is missing; under CI (``CI`` set) those are failures instead, so a missing install step
cannot pass as green. ``--e2e-screenshots`` (or ``E2E_SCREENSHOTS=1``) saves a full-page
screenshot at every step into ``e2e/screenshots/<test>/``; a failing test always saves one of
each open page there.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev)")

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)

from .shots import Shots, slug
from .stack import Stack, stop_on_sigterm

E2E_DIR = Path(__file__).resolve().parent
SCREENSHOTS = E2E_DIR / "screenshots"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
# The flags that work on these machines (see the machine notes): no sandbox as root, no GPU, and
# no background connections, which the closed network refuses. Playwright adds --headless and a
# fresh temporary --user-data-dir for every launch.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Bounded waits: any single browser action or expectation; the LMS sync and the htmx-polled
# status page get their own, longer, bounds where they are awaited.
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 20_000


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--e2e-screenshots",
        action="store_true",
        default=False,
        help="save a full-page screenshot at every step of the browser tests (e2e/screenshots/)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item (for the screenshot-on-failure teardown) and add
    the stack's log tails to a failing test's report."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    stack = _RUNNING.get("stack")
    if report.failed and stack is not None and E2E_DIR in Path(str(item.path)).parents:
        report.sections.append(("e2e stack logs", stack.logs()))
    return report


_REPORTS = pytest.StashKey[dict]()
_RUNNING: dict[str, Stack] = {}


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Overrides the root conftest's cache flush: these tests use no in-process cache, and the
    site under test keeps its own Redis database."""
    yield


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        _missing("browser tests need REDIS_URL: a real Celery worker needs the Redis broker")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"browser tests need Debian's Chromium at {CHROMIUM} (make e2e-deps)")
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_sigterm = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    if in_main_thread:
        stop_on_sigterm()  # a terminated run still drops its database and stops its processes
    try:
        running = Stack(
            workdir=tmp_path_factory.mktemp("e2e-stack"),
            database_url=os.environ.get("DATABASE_URL", ""),
            redis_url=redis_url,
        )
        try:
            running.start()
        except Exception as error:  # start() cleaned up; say why in one line, not a traceback
            pytest.fail(
                f"the e2e stack did not start: {type(error).__name__}: {error}", pytrace=False
            )
        _RUNNING["stack"] = running
        try:
            yield running
        finally:
            _RUNNING.pop("stack", None)
            running.stop()
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous_sigterm)


@pytest.fixture(scope="session")
def browser(stack: Stack) -> Iterator[Browser]:
    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    enabled = request.config.getoption("--e2e-screenshots") or os.environ.get(
        "E2E_SCREENSHOTS", ""
    ) not in ("", "0")
    directory = SCREENSHOTS / slug(request.node.name)
    shutil.rmtree(directory, ignore_errors=True)
    return Shots(directory, enabled)


def open_context(browser: Browser, stack: Stack, **options: Any) -> BrowserContext:
    """A fresh browser context (own cookies and storage) on the site, with bounded timeouts."""
    context = browser.new_context(
        base_url=stack.url, viewport={"width": 1280, "height": 900}, **options
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    return context


class Actor(Protocol):
    def __call__(self, name: str, **context_options: Any) -> Page: ...


@pytest.fixture
def new_actor(
    browser: Browser, stack: Stack, shots: Shots, request: pytest.FixtureRequest
) -> Iterator[Actor]:
    """``new_actor("visitor")``: a page in a fresh browser context (own cookies), on the site;
    keyword arguments go to ``Browser.new_context`` (``storage_state=…``, say).

    Every context is closed after the test; if the test failed, each page is screenshot first.
    """
    contexts: list[tuple[str, BrowserContext]] = []
    problems: list[str] = []

    def open_actor(name: str, **context_options: Any) -> Page:
        context = open_context(browser, stack, **context_options)
        watch_for_page_errors(context, name, problems)
        contexts.append((name, context))
        return context.new_page()

    yield open_actor

    reports = request.node.stash.get(_REPORTS, {})
    failed = any(report.failed for report in reports.values())
    for name, context in contexts:
        if failed:
            for index, page in enumerate(context.pages):
                try:
                    shots.save(page, f"failure-{name}-{index}")
                except Exception as error:  # a crashed page must not hide the real failure
                    print(f"e2e: no failure screenshot of {name}: {error}")
        context.close()
    if problems:
        text = "the pages reported errors:\n" + "\n".join(problems)
        if failed:
            print(text)  # shown with the failure
        else:
            pytest.fail(text, pytrace=False)


def watch_for_page_errors(context: BrowserContext, name: str, problems: list[str]) -> None:
    """Uncaught script errors and Content-Security-Policy violations fail the test: in
    production they are a broken button or a page that no longer refreshes."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(f"{name}: {message.text} ({message.location.get('url')})")

    context.on("console", on_console)
    context.on("weberror", lambda error: problems.append(f"{name}: uncaught {error.error}"))


@pytest.fixture
def page(new_actor: Actor) -> Page:
    """The test's main visitor."""
    return new_actor("visitor")
