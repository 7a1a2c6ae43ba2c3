"""Load generation with wrk: one Lua script per kind of request (``bench/lua/``), each ending in
the shared ``report.lua``, whose ``done()`` prints wrk's statistics as one JSON line."""

import json
import resource
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .site import BenchError

LUA_DIR = Path(__file__).resolve().parent / "lua"
REQUEST_TIMEOUT = "30s"  # wrk counts a slower answer as an error and leaves it out of latencies
RESULT_PREFIX = "BENCH_RESULT "


@dataclass(frozen=True)
class Load:
    connections: int
    threads: int


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_us: dict[str, float]
    wrk_cpu_s: float  # what the load generator itself spent, on the same cores
    extra: dict = field(default_factory=dict)  # a script's own result line (the mix's kinds)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        """Requests answered 4xx/5xx, timed out or cut off."""
        return sum(self.errors.values())

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "latency_ms": {key: round(value / 1000, 2) for key, value in self.latency_us.items()},
            "errors": self.errors,
        }


def wrk_path() -> str | None:
    return shutil.which("wrk")


def script(kind: str, work_dir: Path) -> Path:
    """``bench/lua/<kind>.lua`` followed by ``report.lua``, written into ``work_dir``; the mix
    comes after ``report.lua``, as its ``done()`` calls that one's."""
    path = work_dir / f"{kind}.lua"
    if not path.exists():
        parts = [(LUA_DIR / f"{kind}.lua").read_text(), (LUA_DIR / "report.lua").read_text()]
        path.write_text("\n".join(reversed(parts) if kind == "mix" else parts))
    return path


def run_wrk(
    *,
    url: str,
    script_path: Path,
    args: list[str],
    seconds: int,
    load: Load,
    extra_prefix: str | None = None,
) -> LoadResult:
    command = [
        "wrk",
        f"--threads={load.threads}",
        f"--connections={load.connections}",
        f"--duration={seconds}s",
        f"--timeout={REQUEST_TIMEOUT}",
        f"--script={script_path}",
        url,
        "--",
        *args,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    lines = finished.stdout.splitlines()
    extra = next(
        (
            json.loads(line[len(extra_prefix) :])
            for line in lines
            if extra_prefix and line.startswith(extra_prefix)
        ),
        {},
    )
    for line in lines:
        if line.startswith(RESULT_PREFIX) and (extra or not extra_prefix):
            data = json.loads(line[len(RESULT_PREFIX) :])
            return LoadResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1_000_000,
                errors=data["errors"],
                latency_us=data["latency_us"],
                wrk_cpu_s=wrk_cpu_s,
                extra=extra,
            )
    raise BenchError(
        f"wrk printed no result (exit {finished.returncode}):\n{finished.stdout}{finished.stderr}"
    )
