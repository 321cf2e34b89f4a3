"""`manage.py benchmark`'s scenario options: parsed, and refused before anything starts."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tools import options as benchmark_options
from tools.measure import BenchmarkError
from tools.options import SCENARIOS, parse_scenarios, parse_workers
from tools.report import report_lines


@pytest.mark.parametrize(
    ("value", "scenarios"),
    [
        ("short,long,fairness", ("short", "long", "fairness")),
        ("fairness,short", ("short", "fairness")),  # they always run in the same order
        (" long , long ", ("long",)),
        ("fairness", ("fairness",)),
        ("diarization,short", ("short", "diarization")),
    ],
)
def test_parse_scenarios(value, scenarios):
    assert parse_scenarios(value) == scenarios


@pytest.mark.parametrize("value", ["", ",", "short,medium", "all"])
def test_unknown_or_no_scenarios_are_refused(value):
    with pytest.raises(BenchmarkError, match="--scenarios"):
        parse_scenarios(value)


@pytest.mark.parametrize(
    ("value", "workers"), [("1,2,4", (1, 2, 4)), ("2", (2,)), ("4, 1, 4", (4, 1))]
)
def test_parse_workers(value, workers):
    assert parse_workers(value) == workers


@pytest.mark.parametrize("value", ["", "0", "1,-2", "two", "1.5"])
def test_bad_worker_counts_are_refused(value):
    with pytest.raises(BenchmarkError, match="--long-workers"):
        parse_workers(value)


def test_every_scenario_runs_by_default():
    assert (
        benchmark_options.BenchmarkOptions().scenarios
        == SCENARIOS
        == (
            "short",
            "long",
            "fairness",
            "diarization",
            "realtime",
            "accuracy",
        )
    )
    assert benchmark_options.DEFAULT_LONG_MODEL == "tiny.en"


def refused(**options) -> str:
    with pytest.raises(CommandError) as error:
        call_command("benchmark", stdout=io.StringIO(), stderr=io.StringIO(), **options)
    return str(error.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scenarios": "short,bogus"}, "--scenarios"),
        ({"long_workers": "1,0"}, "--long-workers"),
        ({"scenarios": "long", "long_model": "large-v9"}, "Unknown model 'large-v9'"),
        ({"long_runs": 0}, "--long-runs"),
        ({"fairness_jobs": 0}, "--fairness-jobs"),
        ({"fairness_probes": 0}, "--fairness-probes"),
        (
            {"scenarios": "fairness", "url": "http://127.0.0.1:9", "key": "sk-a"},
            benchmark_options.MSG_FAIRNESS_NEEDS_KEY_B,
        ),
    ],
)
def test_unusable_scenario_options_are_refused_before_anything_starts(options, message):
    assert message in refused(**options)


def test_a_scenario_that_does_not_run_does_not_check_its_options():
    # The long model is only resolved when the long scenario runs: here the refusal is the
    # short scenario's (no such file), not the long model's.
    message = refused(scenarios="short", long_model="large-v9", file=Path("/nonexistent.flac"))
    assert message == benchmark_options.MSG_NO_FILE.format(path="/nonexistent.flac")


def long_figures(cpus: int = 2) -> dict:
    row = {
        "seconds": {"median": 80.0, "min": 80.0, "max": 80.0, "n": 1, "values": [80.0]},
        "wer": 0.05,
        "over_bare": 1.6,
        "wer_points_from_bare": 0.5,
        "text": "",
        "texts_identical": True,
        "text_identical_to_bare": True,
    }
    return {
        "file": {"audio_seconds": 604.0, "clips": ["jfk"] * 36, "reference_words": 1404},
        "model": "tiny.en",
        "cpus": cpus,
        "platform": {"url": None, "started_here": True},
        "bare": {"cpu_threads": 0, "seconds": row["seconds"], "wer": 0.045, "text": ""},
        "rows": [
            {**row, "workers": n, "cpu_threads_per_worker": max(1, cpus // n)} for n in (1, 2, 4)
        ],
    }


def test_the_long_table_has_a_row_per_worker_count_and_says_what_too_many_workers_show():
    lines = report_lines({"scenarios": ["long"], "long": long_figures()})

    header = next(i for i, line in enumerate(lines) if line.startswith("workers"))
    rows = [line.split() for line in lines[header + 1 : header + 4]]
    assert [row[:2] for row in rows] == [["1", "2"], ["2", "1"], ["4", "1"]]
    assert rows[0][2:7] == ["80.0", "1.600", "5.00", "0.50", "yes"]
    assert "overhead only" in lines[header + 3] and "overhead" not in lines[header + 2]
    assert any("4 workers on 2 cores" in line for line in lines)


def test_every_scenario_gets_its_own_section():
    fairness = {
        "platform": {"url": "http://x", "started_here": False},
        "tenant_a": {
            "jobs": 8,
            "clip": "multilingual.mp3",
            "model": "whisper-1",
            "submit_seconds": 1.0,
            "statuses_after_b": {"queued": 5, "running": 2, "succeeded": 1},
            "seconds_until_b_done": 30.0,
        },
        "tenant_b": {
            "clip": "jfk.flac",
            "model": "tiny.en",
            "idle_seconds": {"median": 1.0, "min": 1.0, "max": 1.0, "n": 1},
            "loaded_seconds": {"median": 5.0, "min": 4.0, "max": 9.0, "n": 2},
            "a_backlog_when_sent": [{"queued": 6, "running": 2}, {"queued": 4, "running": 2}],
        },
        "loaded_over_idle": {"median": 5.0, "max": 9.0},
        "target": {"limit": 3.0, "met": False},
    }
    lines = report_lines(
        {"scenarios": ["long", "fairness"], "long": long_figures(), "fairness": fairness}
    )

    assert [line.split()[1] for line in lines if line.startswith("--- ")] == ["long", "fairness"]
    ratio = next(line for line in lines if line.startswith("loaded / idle"))
    assert "median 5.00 x, max 9.00 x" in ratio and "(target median <= 3: MISSED)" in ratio
    loaded = next(line for line in lines if line.startswith("tenant B loaded"))
    assert loaded.endswith("(A's jobs queued/running as each was sent: 6/2, 4/2)")


def test_the_diarization_section_gives_the_share_and_its_verdict():
    figures = {
        "audio_seconds": 80.1,
        "model": "tiny.en",
        "voices": 4,
        "speakers_found": 4,
        "transcribe_seconds": [10.0, 12.0, 11.0],
        "diarize_seconds": [1.0, 1.2, 1.1],
        "share": 0.1,
        "target": {"limit": 0.25, "met": True},
    }
    lines = report_lines({"scenarios": ["short", "diarization"], "diarization": figures})
    assert lines[0].startswith("--- diarization")
    assert "speakers found 4" in lines[1]
    assert "transcribe (tiny.en, word times) 11.00 s, diarize 1.10 s" in lines[2]
    assert lines[3].endswith("(target <= 0.25: met)")
