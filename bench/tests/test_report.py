"""The numbers the bench reports: medians of interleaved rounds with their spread, ratios to the
floor round by round, targets, instruction counts beside their baseline, the README tables."""

import json
from pathlib import Path

import pytest

from bench import instructions
from bench.endpoints import Target
from bench.mix import lms_check
from bench.report import aggregate, compare, floor_spread, markdown
from bench.report import main as report_main
from bench.site import PRODUCTION_SERVER, PRODUCTION_WORKER

BASE_DIR = Path(__file__).resolve().parents[2]


def _round(name, rps, cpu_ms, p95=10.0):
    return {
        "name": name,
        "label": name,
        "load": {
            "requests": int(rps * 10),
            "seconds": 10.0,
            "rps": rps,
            "latency_ms": {
                "mean": p95 / 2,
                "p50": p95 / 2,
                "p90": p95,
                "p95": p95,
                "p99": p95 * 2,
                "max": p95 * 3,
            },
            "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0},
        },
        "cpu": {"ms_per_request": cpu_ms, "cores": {"site": 1.5, "other": 0.1}},
        "memory": {"peak_rss_mb": 300.0, "peak_pss_mb": 200.0, "processes": 5},
        "probe": None,
    }


def test_rows_are_medians_of_the_rounds_with_their_min_and_max():
    rounds = [
        _round("catalog", 900, 0.9),
        _round("catalog", 1200, 0.7),
        _round("catalog", 1000, 0.8),
    ]

    row = aggregate(rounds)

    assert row["load"]["rps"] == 1000
    assert row["cpu"]["ms_per_request"] == 0.8
    assert row["range"]["rps"] == [900, 1200]
    assert row["range"]["cpu_ms"] == [0.7, 0.9]
    assert row["load"]["requests"] == 31000
    assert len(row["rounds"]) == 3


def test_a_floor_spread_past_ten_percent_is_flagged():
    steady = [_round("floor", 2000, 0.50), _round("floor", 2050, 0.52), _round("floor", 1990, 0.51)]
    shaky = [_round("floor", 2000, 0.50), _round("floor", 2000, 0.60), _round("floor", 2000, 0.52)]

    assert floor_spread(steady)["over_limit"] is False
    assert floor_spread(shaky)["over_limit"] is True
    assert floor_spread(shaky)["cpu_ms"] == round(0.10 / 0.52, 3)


def test_cpu_ratio_is_taken_round_by_round_against_the_floor_of_the_same_round():
    # The floor and the page both slow down in round 2 (a noisy neighbour): the ratio holds.
    floor = aggregate(
        [_round("floor", 2000, 0.5), _round("floor", 1000, 1.0), _round("floor", 2000, 0.5)]
    )
    page = aggregate(
        [_round("course", 1500, 0.7), _round("course", 750, 1.4), _round("course", 1500, 0.7)]
    )

    result = compare(page, floor, Target(cpu_x=1.5))

    assert result["vs_floor"]["cpu_per_request_x"] == 1.4
    assert result["vs_floor"]["cpu_per_request_x_range"] == [1.4, 1.4]
    assert result["met"] is True


def test_a_cpu_target_needs_both_the_cpu_ratio_and_the_instruction_ratio():
    floor = aggregate([_round("floor", 2000, 0.5)] * 3)
    page = aggregate([_round("course", 1500, 0.7)] * 3)
    counted = {"endpoints": {"course": {"per_request": 1_600_000, "floor_x": 1.6}}}

    result = compare(page, floor, Target(cpu_x=1.5), instructions=counted)

    assert result["vs_floor"]["instructions_x"] == 1.6
    assert result["met"] is False


def test_referral_clicks_are_judged_against_the_catalogs_throughput():
    floor = aggregate([_round("floor", 2000, 0.5)] * 3)
    catalog = aggregate([_round("catalog", 1000, 0.7)] * 3)
    clicks = aggregate([_round("referral", 400, 3.0)] * 3)
    target = Target(rps_of="catalog", rps_share=0.5)

    result = compare(clicks, floor, target, {"catalog": catalog})

    assert result["target"] == "req/s ≥ 0.5× catalog"
    assert result["met"] is False


def test_an_instruction_count_past_the_tolerance_is_a_problem(tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"smoke": {"per_request": {"floor": 1000, "course": 2000}}}))
    counted = {
        "floor": {"per_request": 1000 + 10},
        "course": {"per_request": int(2000 * (1 + instructions.TOLERANCE)) + 20},
    }

    result = instructions.compare(counted, mode="smoke", baseline_path=baseline)

    assert result["endpoints"]["floor"]["change"] == 0.01
    assert [problem.split(":")[0] for problem in result["problems"]] == ["course"]


def test_recorded_counts_become_the_baseline_of_their_mode_only(tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"full": {"per_request": {"floor": 5}}}))

    instructions.record(
        {"floor": {"per_request": 7}},
        mode="smoke",
        machine={"cpu": "AMD EPYC", "python": "3.11.7"},
        commit="abc1234",
        baseline_path=baseline,
    )

    stored = json.loads(baseline.read_text())
    assert stored["full"]["per_request"] == {"floor": 5}
    assert stored["smoke"]["per_request"] == {"floor": 7}
    assert stored["smoke"]["cpu"] == "AMD EPYC"


def test_callgrind_totals_are_read_from_each_dump(tmp_path):
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 12345\n")

    assert instructions._total(dump) == 12345


def test_the_driver_builds_the_environ_gunicorn_would():
    request = {
        "method": "POST",
        "path": "/courses/x/checkout/?a=1",
        "headers": {"Cookie": "csrftoken=t", "Content-Type": "application/x-www-form-urlencoded"},
        "body": "email=a%40b.c",
    }

    environ = instructions._environ(request, "127.0.0.1:8123")

    assert environ["PATH_INFO"] == "/courses/x/checkout/"
    assert environ["QUERY_STRING"] == "a=1"
    assert environ["HTTP_COOKIE"] == "csrftoken=t"
    assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert environ["CONTENT_LENGTH"] == "13"
    assert environ["SERVER_PORT"] == "8123"
    assert environ["wsgi.input"].read() == b"email=a%40b.c"


def test_the_readme_table_is_rendered_from_a_results_json():
    floor = aggregate([_round("floor", 2000, 0.5)] * 3)
    course = aggregate([_round("course", 1500, 0.7)] * 3)
    course.update(compare(course, floor, Target(cpu_x=1.5)))
    report = {
        "kind": "full",
        "started_at": "2026-12-07T04:00:00+00:00",
        "config": {"rounds": 3, "seconds": 10, "connections": 16, "server": PRODUCTION_SERVER},
        "floor_spread": {"cpu_ms": 0.0, "rps": 0.0, "over_limit": False},
        "floor": floor,
        "endpoints": [course],
        "instructions": {
            "endpoints": {
                "floor": {"per_request": 1000, "floor_x": 1.0},
                "course": {"per_request": 1300, "floor_x": 1.3},
            }
        },
        "machine": {"cpu": "AMD EPYC", "cores": 2, "python": "3.11.7"},
    }

    text = markdown(report)

    assert "**AMD EPYC**" in text
    assert PRODUCTION_SERVER in text
    assert "| course | 1,500 (1,500–1,500) |" in text
    assert "| 1,300 | 1.30× |" in text
    assert "| CPU× ≤ 1.5 | yes |" in text


def test_readme_runbook_and_bench_give_the_one_production_server_command():
    for doc in ("README.md", "docs/runbook.md", "bench/README.md"):
        text = (BASE_DIR / doc).read_text()
        assert PRODUCTION_SERVER in text, doc
        assert "gunicorn maaledu.wsgi --workers 4 --bind" not in text, doc


@pytest.mark.parametrize("argv", [["--help"], ["no-such-results.json"], []])
def test_the_report_answers_a_wrong_call_with_its_usage_not_a_traceback(argv):
    with pytest.raises(SystemExit) as caught:
        report_main(argv)

    assert str(caught.value).startswith("usage: python -m bench.report")


def test_the_readme_gives_the_worker_command_the_mix_runs():
    assert PRODUCTION_WORKER in (BASE_DIR / "README.md").read_text()


@pytest.mark.parametrize(
    ("enrolled", "in_lms", "met"), [(40, 40, True), (39, 39, False), (40, 39, False)]
)
def test_the_mix_is_lossless_only_when_every_paid_learner_is_in_the_lms(enrolled, in_lms, met):
    drain = {
        "paid": 40,
        "enrolled": enrolled,
        "in_lms": in_lms,
        "drain_seconds": 12.5,
        "drain_limit_seconds": 600,
    }

    assert lms_check(drain)["met"] is met
