"""The e-mails the site and the worker sent, read from Django's file backend directory.

The file backend writes each connection's messages to one file, separated by a line of 79
dashes written after each message, so a message is read only once its separator is there.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from dataclasses import dataclass
from pathlib import Path

SEPARATOR = b"\n" + b"-" * 79 + b"\n"
DEFAULT_TIMEOUT = 20.0


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str

    def link(self, pattern: str) -> str:
        """The first URL in the text whose path matches ``pattern`` (a regex)."""
        for url in re.findall(r"https?://\S+", self.text):
            if re.search(pattern, url):
                return url.rstrip(".,)>")
        raise AssertionError(f"no link matching {pattern!r} in {self.subject!r}:\n{self.text}")

    def find(self, pattern: str) -> str:
        """The first match of ``pattern`` in the text (group 1 if it has one)."""
        match = re.search(pattern, self.text)
        if match is None:
            raise AssertionError(f"{pattern!r} not in {self.subject!r}:\n{self.text}")
        return match.group(1) if match.groups() else match.group(0)


class Mailbox:
    def __init__(self, directory: Path):
        self.directory = directory

    def messages(self) -> list[Message]:
        found = []
        for path in sorted(self.directory.glob("*.log"), key=lambda p: p.stat().st_mtime_ns):
            # Only pieces followed by a separator are complete: the last one may be half written.
            *complete, _rest = path.read_bytes().split(SEPARATOR)
            found.extend(_parse(chunk) for chunk in complete if chunk.strip())
        return found

    def wait_for(self, *, to: str, subject: str, timeout: float = DEFAULT_TIMEOUT) -> Message:
        """The newest message to ``to`` whose subject contains ``subject`` (case-insensitive),
        waiting up to ``timeout`` seconds for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            matches = [
                message
                for message in self.messages()
                if to.lower() in message.to.lower() and subject.lower() in message.subject.lower()
            ]
            if matches:
                return matches[-1]
            if time.monotonic() >= deadline:
                seen = [(m.to, m.subject) for m in self.messages()]
                raise AssertionError(
                    f"no e-mail to {to} about {subject!r} within {timeout:.0f}s; seen: {seen}"
                )
            time.sleep(0.1)


def _parse(raw: bytes) -> Message:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    body = parsed.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return Message(to=str(parsed["To"] or ""), subject=str(parsed["Subject"] or ""), text=text)
