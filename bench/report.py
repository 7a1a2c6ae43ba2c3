"""The results: each endpoint beside the floor, the targets, the machine, as a table and JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import gunicorn
from django.db import connection

if TYPE_CHECKING:
    from .endpoints import Target

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Past this spread between its rounds ((max − min) / median) the floor is not a firm base.
FLOOR_SPREAD_LIMIT = 0.10


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
        "redis": redis_client.info("server")["redis_version"] if redis_client else None,
        "gunicorn": gunicorn.__version__,
        "wrk": (wrk.stdout or wrk.stderr).split(" [")[0].strip(),
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _spread(values: list[float]) -> float:
    """(max − min) / median."""
    middle = _median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def aggregate(rounds: list[dict]) -> dict:
    """One endpoint's rounds as one row: medians of req/s, latencies and CPU per request, with
    the min–max beside them (``range``) and every round kept (``rounds``)."""
    last = rounds[-1]
    loads = [row["load"] for row in rounds]
    cpus = [row["cpu"]["ms_per_request"] or 0.0 for row in rounds]
    latency = {
        key: round(_median([load["latency_ms"][key] for load in loads]), 2)
        for key in loads[0]["latency_ms"]
    }
    errors = {key: sum(load["errors"][key] for load in loads) for key in loads[0]["errors"]}
    row = {
        "name": last["name"],
        "label": last["label"],
        "load": {
            "requests": sum(load["requests"] for load in loads),
            "seconds": round(sum(load["seconds"] for load in loads), 3),
            "rps": round(_median([load["rps"] for load in loads]), 1),
            "latency_ms": latency,
            "errors": errors,
        },
        "cpu": {
            "ms_per_request": round(_median(cpus), 3),
            "cores": {
                "site": round(_median([row["cpu"]["cores"]["site"] for row in rounds]), 2),
                "other": max(row["cpu"]["cores"]["other"] for row in rounds),
            },
        },
        "range": {
            "rps": [min(load["rps"] for load in loads), max(load["rps"] for load in loads)],
            "p95": [
                min(load["latency_ms"]["p95"] for load in loads),
                max(load["latency_ms"]["p95"] for load in loads),
            ],
            "cpu_ms": [min(cpus), max(cpus)],
        },
        "memory": {
            key: max(row["memory"][key] for row in rounds)
            for key in ("peak_rss_mb", "peak_pss_mb", "processes")
        },
        "probe": next((row["probe"] for row in reversed(rounds) if row["probe"]), None),
        "rounds": [
            {
                "rps": row["load"]["rps"],
                "latency_ms": row["load"]["latency_ms"],
                "cpu_ms": row["cpu"]["ms_per_request"],
                "cpu": row["cpu"],
                **({"effect_rows": row["effect_rows"]} if "effect_rows" in row else {}),
            }
            for row in rounds
        ],
    }
    if "effect_rows" in last:
        row["effect_rows"] = sum(r["effect_rows"] for r in rounds)
    return row


def floor_spread(rounds: list[dict]) -> dict:
    """How far the floor's own rounds are apart; over 10 % the ratios to it are shaky."""
    cpu = _spread([row["cpu"]["ms_per_request"] or 0.0 for row in rounds])
    rps = _spread([row["load"]["rps"] for row in rounds])
    return {
        "cpu_ms": round(cpu, 3),
        "rps": round(rps, 3),
        "limit": FLOOR_SPREAD_LIMIT,
        "over_limit": max(cpu, rps) > FLOOR_SPREAD_LIMIT,
    }


def compare(
    row: dict,
    floor: dict,
    target: Target | None,
    rows: dict | None = None,
    instructions: dict | None = None,
) -> dict:
    """The endpoint beside the floor, round by round (medians of the per-round ratios, with
    min–max), and whether its target is met: CPU× judged on both the median CPU× and the
    instruction ratio, p95 on the median p95, a share of another endpoint's req/s on medians."""
    ratios = []
    for mine, theirs in zip(row["rounds"], floor["rounds"], strict=False):
        ratios.append(
            {
                "throughput_x": theirs["rps"] / mine["rps"] if mine["rps"] else None,
                "cpu_x": (
                    mine["cpu_ms"] / theirs["cpu_ms"]
                    if mine["cpu_ms"] and theirs["cpu_ms"]
                    else None
                ),
                **{
                    f"{key}_x": mine["latency_ms"][key] / theirs["latency_ms"][key]
                    for key in ("p50", "p95", "p99")
                },
            }
        )

    def summary(key: str) -> tuple[float | None, list[float] | None]:
        values = [ratio[key] for ratio in ratios if ratio[key] is not None]
        if not values:
            return None, None
        return round(_median(values), 2), [round(min(values), 2), round(max(values), 2)]

    comparison = {}
    for key in ("throughput_x", "p50_x", "p95_x", "p99_x"):
        comparison[key] = summary(key)[0]
    comparison["cpu_per_request_x"], comparison["cpu_per_request_x_range"] = summary("cpu_x")
    counted = ((instructions or {}).get("endpoints") or {}).get(row["name"])
    comparison["instructions_x"] = counted["floor_x"] if counted else None
    if target is None:
        return {"vs_floor": comparison, "target": None, "met": None}
    checks = []
    if target.cpu_x is not None:
        checks.append(
            comparison["cpu_per_request_x"] is not None
            and comparison["cpu_per_request_x"] <= target.cpu_x
        )
        if comparison["instructions_x"] is not None:
            checks.append(comparison["instructions_x"] <= target.cpu_x)
    if target.p95_ms is not None:
        checks.append(row["load"]["latency_ms"]["p95"] < target.p95_ms)
    if target.rps_of is not None:
        other = (rows or {}).get(target.rps_of)
        checks.append(
            other is not None and row["load"]["rps"] >= target.rps_share * other["load"]["rps"]
        )
    return {"vs_floor": comparison, "target": target.describe(), "met": all(checks)}


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _range(values: list[float] | None, fmt) -> str:
    return f"{fmt(values[0])}–{fmt(values[1])}" if values else "—"


def table(rows: list[dict], instructions: dict | None = None) -> str:
    """One line per endpoint, medians of the rounds. ÷floor: how many times fewer requests/s
    than the floor; CPU ms: server and database CPU per request (min–max of the rounds); CPU×:
    that beside the floor's, median of the rounds; Ir/req: instructions per request (callgrind)
    and Ir×: beside the floor's; cores: what the site kept busy / the most programs outside the
    bench took; SQL: queries in one request."""
    counted = (instructions or {}).get("endpoints") or {}
    header = (
        f"{'endpoint':<10} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'÷floor':>7} {'CPU ms':>15} {'CPU×':>6} {'Ir/req':>11} {'Ir×':>6} {'cores':>9} "
        f"{'SQL':>4}  {'target':<26} met"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        latency, vs = row["load"]["latency_ms"], row.get("vs_floor") or {}
        cores = row["cpu"]["cores"]
        probe = row.get("probe") or {}
        met = {True: "yes", False: "NO", None: "—"}[row.get("met")]
        cpu_range = _range(row.get("range", {}).get("cpu_ms"), lambda v: f"{v:.2f}")
        cpu = f"{_number(row['cpu']['ms_per_request'])} ({cpu_range})"
        ir = counted.get(row["name"], {})
        lines.append(
            f"{row['name']:<10} {row['load']['rps']:>7.0f} {_ms(latency['p50']):>7} "
            f"{_ms(latency['p95']):>7} {_ms(latency['p99']):>7} "
            f"{_fmt_x(vs.get('throughput_x')):>7} {cpu:>15} "
            f"{_fmt_x(vs.get('cpu_per_request_x')):>6} "
            f"{ir.get('per_request', 0):>11,} {_fmt_x(ir.get('floor_x')):>6} "
            f"{cores['site']:>4.2f}/{cores['other']:<4.2f} "
            f"{probe.get('queries', '—'):>4}  {row.get('target') or '—':<26} {met}"
        )
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """The README's tables from a results JSON: ``python -m bench.report <json>``."""
    machine = report.get("machine", {})
    lines = [
        f"{report.get('started_at', '?')}, `{report.get('kind')}` run, CPU: "
        f"**{machine.get('cpu', '?')}** ({machine.get('cores', '?')} cores), Python "
        f"{machine.get('python', '?')}, PostgreSQL {machine.get('postgresql', '?')}, gunicorn "
        f"{machine.get('gunicorn', '?')}: `{report.get('config', {}).get('server', '?')}`.",
        "",
    ]
    if "endpoints" in report:
        lines += _markdown_endpoints(report)
    if "mix" in report:
        lines += _markdown_mix(report)
    return "\n".join(lines)


def _markdown_endpoints(report: dict) -> list[str]:
    config, spread = report.get("config", {}), report.get("floor_spread", {})
    counted = (report.get("instructions") or {}).get("endpoints") or {}
    lines = [
        f"Medians of {config.get('rounds', 1)} interleaved rounds of {config.get('seconds')} s "
        f"at {config.get('connections')} connections, min–max in brackets. Floor spread: CPU "
        f"{spread.get('cpu_ms', 0):.0%}, req/s {spread.get('rps', 0):.0%}"
        + (" (**over 10 %: ratios shaky**)" if spread.get("over_limit") else "")
        + ("; **machine contended**" if report.get("contended") else "")
        + ".",
        "",
        "| endpoint | req/s | p50 ms | p95 ms | p99 ms | ÷floor | CPU ms/req | CPU× | "
        "Ir/req | Ir× | SQL | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in [report["floor"], *report["endpoints"]]:
        latency, vs = row["load"]["latency_ms"], row.get("vs_floor") or {}
        ranges = row.get("range", {})
        ir = counted.get(row["name"], {})
        met = {True: "yes", False: "**no**", None: "—"}[row.get("met")]
        lines.append(
            f"| {row['name']} | {row['load']['rps']:,.0f} "
            f"({_range(ranges.get('rps'), lambda v: f'{v:,.0f}')}) | {_ms(latency['p50'])} | "
            f"{_ms(latency['p95'])} ({_range(ranges.get('p95'), _ms)}) | {_ms(latency['p99'])} | "
            f"{_fmt_x(vs.get('throughput_x'))} | {_number(row['cpu']['ms_per_request'])} "
            f"({_range(ranges.get('cpu_ms'), lambda v: f'{v:.2f}')}) | "
            f"{_fmt_x(vs.get('cpu_per_request_x'))} "
            f"({_range(vs.get('cpu_per_request_x_range'), lambda v: f'{v:.2f}')}) | "
            f"{ir.get('per_request', 0):,} | {_fmt_x(ir.get('floor_x'))} | "
            f"{(row.get('probe') or {}).get('queries', '—')} | {row.get('target') or '—'} | {met} |"
        )
    return lines


def _markdown_mix(report: dict) -> list[str]:
    mix = report["mix"]
    lines = [
        "",
        f"Launch-day mix: {mix['connections']} connections, {mix['seconds']} s, Stripe latency "
        f"{mix['latency']['stripe']}, Frappe {mix['latency']['frappe']}"
        + (f", Celery worker `{mix['worker']['command']}`" if mix.get("worker") else "")
        + f"; {mix['total_requests']:,} requests, {mix['total_errors']} errors.",
        "",
        "| endpoint | share | requests | errors | p50 ms | p95 ms | p99 ms | alone p95 ms "
        "| target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in mix["endpoints"]:
        met = {True: "yes", False: "**no**", None: "—"}[row.get("met")]
        alone = row.get("alone_p95_ms")
        lines.append(
            f"| {row['name']} | {row['share']:.0%} | {row['requests']:,} | {row['errors']} | "
            f"{_ms(row['p50'])} | {_ms(row['p95'])} | {_ms(row['p99'])} | "
            f"{_ms(alone) if alone else '—'} | {row.get('target') or '—'} | {met} |"
        )
    lines.append("")
    if mix.get("cpu"):
        cores = mix["cpu"]["cores"]
        lines.append(
            f"Cores busy during the mix (of {cores['machine']:.2f} in use): site (web server, "
            f"PostgreSQL, Redis) {cores['site']:.2f}, Celery worker {cores.get('worker', 0):.2f}, "
            f"wrk {cores['wrk']:.2f}, the bench's fakes {cores['bench']:.2f}, other "
            f"{cores['other']:.2f}; site CPU {mix['cpu']['ms_per_request']:.2f} ms per request."
        )
        lines.append("")
    for check in mix.get("checks", []):
        met = "yes" if check["met"] else "**no**"
        lines.append(f"- {check['what']}: {check['found']} ({met})")
    return lines


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


def servers_table(reports: list[dict]) -> str:
    """Mix runs of several server commands, one line each: which keeps pages fast while
    checkouts wait on Stripe."""
    lines = [
        "| server command | mix req/s | errors | catalog p50 / p95 ms | course p95 ms | "
        "checkout p95 ms | webhook p95 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for report in reports:
        mix = report["mix"]
        kinds = {row["name"]: row for row in mix["endpoints"]}
        lines.append(
            f"| `{mix['server']}` | {mix['total_rps']:,.0f} | {mix['total_errors']} | "
            f"{_ms(kinds['catalog']['p50'])} / {_ms(kinds['catalog']['p95'])} | "
            f"{_ms(kinds['course']['p95'])} | {_ms(kinds['checkout']['p95'])} | "
            f"{_ms(kinds['webhook']['p95'])} |"
        )
    return "\n".join(lines)


def instructions_table(before: dict, after: dict) -> str:
    """Instructions per request of two runs side by side (before and after a change)."""
    old = (before.get("instructions") or {}).get("endpoints") or {}
    new = (after.get("instructions") or {}).get("endpoints") or {}
    lines = [
        "| endpoint | before Ir/req | Ir× | after Ir/req | Ir× | change |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, entry in new.items():
        was = old.get(name)
        change = f"{entry['per_request'] / was['per_request'] - 1:+.0%}" if was else "—"
        lines.append(
            f"| {name} | {was['per_request']:,} | {was['floor_x']:.2f}× | "
            if was
            else f"| {name} | — | — | "
        )
        lines[-1] += f"{entry['per_request']:,} | {entry['floor_x']:.2f}× | {change} |"
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.report RESULTS.json``: the run's tables in Markdown, for the README;
    ``--servers MIX.json …``: mix runs of several server commands side by side;
    ``--instructions BEFORE.json AFTER.json``: instruction counts before and after."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--instructions"] and len(argv) == 3:
        before, after = (json.loads(Path(path).read_text()) for path in argv[1:])
        print(instructions_table(before, after))
        return
    if argv[:1] == ["--servers"] and len(argv) > 1:
        print(servers_table([json.loads(Path(path).read_text()) for path in argv[1:]]))
        return
    if len(argv) != 1 or argv[0].startswith("-") or not Path(argv[0]).is_file():
        raise SystemExit(
            "usage: python -m bench.report RESULTS.json | --servers MIX.json … | "
            "--instructions BEFORE.json AFTER.json"
        )
    print(markdown(json.loads(Path(argv[0]).read_text())))


if __name__ == "__main__":
    main()
