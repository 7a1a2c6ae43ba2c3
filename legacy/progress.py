"""A progress bar per collection, drawn only on a terminal (a log file gets the report alone)."""

import sys

WIDTH = 30


class Progress:
    def __init__(self, label: str, total: int, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self.total = total
        self.done = 0
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def step(self) -> None:
        self.done += 1
        if self.enabled and (self.done == self.total or self.done % 25 == 1):
            self._draw()

    def close(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        total = max(self.total, self.done, 1)
        filled = WIDTH * self.done // total
        bar = "#" * filled + "." * (WIDTH - filled)
        self.stream.write(f"\r{self.label:<12} [{bar}] {self.done}/{self.total}")
        self.stream.flush()
