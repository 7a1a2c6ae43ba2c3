"""The results: each endpoint beside the floor, the targets, the machine, as a table and JSON."""

import json
import os
import platform
import subprocess
from pathlib import Path

import gunicorn
from django.db import connection

from .endpoints import Target

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine(redis_client) -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    wrk = subprocess.run(
        ["wrk", "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "redis": redis_client.info("server")["redis_version"],
        "gunicorn": gunicorn.__version__,
        "wrk": (wrk.stdout or wrk.stderr).split(" [")[0].strip(),
    }


def compare(row: dict, floor: dict, target: Target | None) -> dict:
    """How many times the floor's throughput, latencies and CPU per request; whether the
    target (on throughput and p95) is met."""
    rps, floor_rps = row["load"]["rps"], floor["load"]["rps"]
    latency, floor_latency = row["load"]["latency_ms"], floor["load"]["latency_ms"]
    cpu, floor_cpu = row["cpu"]["ms_per_request"], floor["cpu"]["ms_per_request"]
    comparison = {
        "throughput_x": round(floor_rps / rps, 2) if rps else None,
        **{
            f"{key}_x": round(latency[key] / floor_latency[key], 2) for key in ("p50", "p95", "p99")
        },
        "cpu_per_request_x": round(cpu / floor_cpu, 2) if cpu and floor_cpu else None,
    }
    if target is None:
        return {"vs_floor": comparison, "target": None, "met": None}
    met = rps * target.slowdown >= floor_rps
    if target.p95_ms is not None:
        met = met and latency["p95"] < target.p95_ms
    return {"vs_floor": comparison, "target": target.describe(), "met": met}


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(rows: list[dict]) -> str:
    """One line per endpoint. ÷floor: how many times fewer requests/s than the floor; CPU ms:
    server and database CPU per request; CPU×: that beside the floor's; cores: what the site
    kept busy / what programs outside the bench took; SQL: queries in one request."""
    header = (
        f"{'endpoint':<10} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'÷floor':>7} {'CPU ms':>7} {'CPU×':>7} {'cores':>9} {'SQL':>4}  {'target':<22} met"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        latency, vs = row["load"]["latency_ms"], row.get("vs_floor") or {}
        cores = row["cpu"]["cores"]
        probe = row.get("probe") or {}
        met = {True: "yes", False: "NO", None: "—"}[row.get("met")]
        lines.append(
            f"{row['name']:<10} {row['load']['rps']:>7.0f} {_ms(latency['p50']):>7} "
            f"{_ms(latency['p95']):>7} {_ms(latency['p99']):>7} "
            f"{_fmt_x(vs.get('throughput_x')):>7} {_number(row['cpu']['ms_per_request']):>7} "
            f"{_fmt_x(vs.get('cpu_per_request_x')):>7} "
            f"{cores['site']:>4.2f}/{cores['other']:<4.2f} "
            f"{probe.get('queries', '—'):>4}  {row.get('target') or '—':<22} {met}"
        )
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _fmt_x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def scaling_table(rows: list[dict]) -> str:
    """One line per history size. SQL ms: the queries of one request alone; after click: one
    request alone right after a new visitor followed the affiliate's link."""
    header = (
        f"{'commissions':>11} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'CPU ms':>7} {'cores':>9} {'SQL':>4} {'SQL ms':>7} {'slowest':>8} {'after click':>12}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        latency, probe, cpu = row["load"]["latency_ms"], row["probe"], row["cpu"]
        lines.append(
            f"{row['commissions']:>11,} {row['load']['rps']:>7.0f} {_ms(latency['p50']):>7} "
            f"{_ms(latency['p95']):>7} {_ms(latency['p99']):>7} "
            f"{_number(cpu['ms_per_request']):>7} "
            f"{cpu['cores']['site']:>4.2f}/{cpu['cores']['other']:<4.2f} {probe['queries']:>4} "
            f"{_ms(probe['sql_ms']):>7} {_ms(probe['slowest_query_ms']):>8} "
            f"{_ms(row['after_click_probe']['wall_ms']):>9} ms"
        )
    return "\n".join(lines)


def write_json(report: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return path
