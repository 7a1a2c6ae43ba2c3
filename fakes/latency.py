"""How long a fake takes to answer, so a benchmark sees the waits of the real service.

Off by default (tests want answers at once). A model is a log-normal around ``median_ms`` whose
99th percentile falls at ``p99_ms`` (the same as the median: always the median), never more
than ``max_ms``; draws come from a seeded generator, so a run repeats. Standard library only.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import asdict, dataclass

# The 99th percentile of the standard normal distribution.
_Z99 = 2.3263


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p99_ms: float | None = None
    max_ms: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.median_ms < 0:
            raise ValueError("median_ms must be 0 or more")
        if self.p99_ms is not None and self.p99_ms < self.median_ms:
            raise ValueError("p99_ms must be at least median_ms")
        if self.max_ms is not None and self.max_ms < self.median_ms:
            raise ValueError("max_ms must be at least median_ms")

    @classmethod
    def parse(cls, text: str) -> Latency | None:
        """``"250"``, ``"250,p99=800,max=1000"``; ``"0"`` or ``"off"`` for none."""
        head, *options = [part.strip() for part in text.split(",")]
        if head in ("off", "0", ""):
            return None
        values = dict(option.split("=", 1) for option in options)
        unknown = set(values) - {"p99", "max", "seed"}
        if unknown:
            raise ValueError(f"unknown latency option(s) {sorted(unknown)}: use p99=, max=, seed=")
        return cls(
            median_ms=float(head),
            p99_ms=float(values["p99"]) if "p99" in values else None,
            max_ms=float(values["max"]) if "max" in values else None,
            seed=int(values.get("seed", 0)),
        )

    @property
    def sigma(self) -> float:
        if not self.p99_ms or self.p99_ms == self.median_ms or self.median_ms == 0:
            return 0.0
        return math.log(self.p99_ms / self.median_ms) / _Z99

    def sampler(self):
        """A thread-safe function returning the next wait, in seconds."""
        generator, lock, sigma = random.Random(self.seed), threading.Lock(), self.sigma

        def draw() -> float:
            with lock:
                ms = self.median_ms * math.exp(sigma * generator.gauss(0.0, 1.0))
            if self.max_ms is not None:
                ms = min(ms, self.max_ms)
            return ms / 1000

        return draw

    def describe(self) -> str:
        text = f"{self.median_ms:g} ms median"
        if self.sigma:
            text += f", p99 {self.p99_ms:g} ms"
        if self.max_ms is not None and self.sigma:
            text += f", at most {self.max_ms:g} ms"
        return text

    def as_dict(self) -> dict:
        return {**asdict(self), "describe": self.describe()}


# The defaults the bench uses for a realistic run: Stripe's API around 250 ms with a tail to 1 s,
# Frappe's REST API around 300 ms.
STRIPE = Latency(median_ms=250, p99_ms=900, max_ms=1000)
FRAPPE = Latency(median_ms=300)
