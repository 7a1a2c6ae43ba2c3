"""Full-page screenshots of a test's steps (``--e2e-screenshots``) and of its failure."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page

SCREENSHOT_TIMEOUT_MS = 10_000


class Shots:
    """Full-page screenshots of one test: at each ``step`` when enabled, and of every open
    page when the test failed."""

    def __init__(self, directory: Path, enabled: bool):
        self.directory = directory
        self.enabled = enabled
        self.count = 0

    def step(self, page: Page, name: str) -> None:
        if self.enabled:
            self.save(page, name)

    def save(self, page: Page, name: str) -> Path:
        self.count += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.count:02d}-{slug(name)}.png"
        page.screenshot(path=str(path), full_page=True, timeout=SCREENSHOT_TIMEOUT_MS)
        return path


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "page"
