"""`manage.py benchmark` in a tiny configuration: every figure is reported, nothing is timed here
(speed is what the benchmark measures, on a quiet machine, not what a test asserts)."""

import io
import json
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command

import speech as engine
from tests.audio import JFK, JFK_TEXT, words
from tools import benchmark

TINY = {"scenarios": "short", "runs": 1, "concurrency": 2, "rounds": 1, "warmup": 0}
TARGETS = {"api_over_bare", "concurrent_over_bare", "first_over_warm", "worker_extra_mb"}


def run_benchmark(tmp_path, **options) -> tuple[dict, str]:
    path = tmp_path / "figures.json"
    out = io.StringIO()
    call_command("benchmark", json=path, stdout=out, stderr=io.StringIO(), **{**TINY, **options})
    return json.loads(path.read_text()), out.getvalue()


def assert_spread(stats: dict, n: int) -> None:
    assert stats["n"] == n == len(stats["values"])
    assert 0 < stats["min"] <= stats["median"] <= stats["max"]


def assert_common_figures(report: dict) -> None:
    assert report["clip"]["path"] == str(benchmark.DEFAULT_CLIP)
    assert report["clip"]["audio_seconds"] == pytest.approx(11.0, abs=0.05)
    assert_spread(report["bare"]["seconds"], 1)
    assert_spread(report["api_sync"]["seconds"], 1)
    assert report["api_over_bare"] == pytest.approx(
        report["api_sync"]["seconds"]["median"] / report["bare"]["seconds"]["median"]
    )
    # The pair's difference, in ms: each API request less the bare run just before it.
    [api], [bare] = report["api_sync"]["seconds"]["values"], report["bare"]["seconds"]["values"]
    assert report["api_minus_bare_ms"]["values"] == [pytest.approx((api - bare) * 1000, abs=0.2)]
    concurrent = report["concurrent"]
    assert concurrent["requests"] == 2 and concurrent["rounds"] == 1
    assert_spread(concurrent["audio_seconds_per_second"], 1)
    assert_spread(concurrent["bare_sequential_audio_seconds_per_second"], 1)
    assert_spread(concurrent["latency_seconds"], 2)
    assert concurrent["over_bare"] == pytest.approx(
        concurrent["audio_seconds_per_second"]["median"]
        / concurrent["bare_sequential_audio_seconds_per_second"]["median"]
    )
    assert report["memory"]["bare_process"]["rss_mb"] > 0
    # Every answer, bare or through the API, alone or concurrent, is the same transcript.
    assert report["transcript"]["all_identical"] is True
    assert report["transcript"]["api_identical_to_bare"] is True
    assert words(report["transcript"]["bare"]) == words(JFK_TEXT)
    assert {t["name"] for t in report["targets"]} == TARGETS
    assert len(report["machine"]["load_before"]) == 3


# Slow: the benchmark starts and stops its own platform (the subject).
@pytest.mark.e2e
def test_starts_its_own_platform_and_reports_every_figure(tmp_path):
    report, out = run_benchmark(tmp_path)

    assert_common_figures(report)
    platform = report["platform"]
    assert platform["started_here"] is True
    assert platform["preloaded_models"] == ["tiny.en"]
    assert report["bare"]["cpu_threads"] == platform["cpu_threads_per_worker"]
    first = report["first_request"]
    assert first["seconds"] > 0
    assert first["over_warm"] == pytest.approx(
        first["seconds"] / report["api_sync"]["seconds"]["median"]
    )
    assert report["cpu"]["platform_per_request"] > 0
    memory = report["memory"]
    assert len(memory["workers"]) == platform["workers"] + platform["interactive_workers"]
    assert memory["worker_rss_mb"] == max(w["rss_mb"] for w in memory["workers"].values())
    assert memory["worker_extra_mb"] == pytest.approx(
        memory["worker_rss_mb"] - memory["bare_process"]["rss_mb"]
    )
    assert all(isinstance(t["met"], bool) for t in report["targets"])

    for label in ("api / bare", "concurrent / bare", "first request", "worker RSS"):
        line = next(line for line in out.splitlines() if line.startswith(label))
        assert "(target " in line and (": met)" in line or ": MISSED)" in line)
    assert any(line.startswith("api - bare ") and " ms " in line for line in out.splitlines())
    # The platform it started is gone.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{platform['url']}/healthz", timeout=2)


# Slow when it is the first user of the session's shared platform (its start is counted
# here), then the benchmark's own requests.
@pytest.mark.e2e
@pytest.mark.django_db
def test_measures_an_existing_deployment_by_url_and_key(tmp_path, platform_server):
    # The OpenAI SDK's base_url (ending in /v1) works as well as the server's address.
    report, out = run_benchmark(tmp_path, url=platform_server.api_base, key=platform_server.key)

    assert_common_figures(report)
    assert report["platform"]["started_here"] is False
    assert report["first_request"] == {"seconds": None, "over_warm": None}
    first = next(t for t in report["targets"] if t["name"] == "first_over_warm")
    assert first["met"] is None
    assert "first request      skipped" in out
    # Its workers heartbeat into its own database, not the one this process is configured with.
    assert report["memory"]["worker_rss_mb"] is None
    assert "not found on this machine" in out


@pytest.mark.inference
def test_the_bare_engine_decodes_as_the_platform_does():
    bare = benchmark.BareEngine(model_id="tiny.en", threads=1)
    _, text, duration = bare.run(JFK)
    result = engine.transcribe(str(JFK), model_id="tiny.en")
    assert text == result.text
    assert duration == pytest.approx(result.duration, abs=0.01)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://127.0.0.1:9"}, benchmark.MSG_URL_NEEDS_KEY),
        (
            {"model": "large-v9"},
            benchmark.MSG_UNKNOWN_MODEL.format(
                model="large-v9",
                models="whisper-1, gpt-4o-transcribe, gpt-4o-mini-transcribe, "
                "gpt-4o-mini-transcribe-2025-12-15, gpt-4o-transcribe-diarize, tiny.en, base",
            ),
        ),
        (
            {"file": Path("/nonexistent/clip.flac")},
            benchmark.MSG_NO_FILE.format(path="/nonexistent/clip.flac"),
        ),
        ({"runs": 0}, benchmark.MSG_BAD_COUNTS),
        ({"warmup": -1}, benchmark.MSG_BAD_COUNTS),
    ],
)
def test_unusable_options_are_refused_before_anything_starts(options, message):
    with pytest.raises(CommandError) as refused:
        call_command("benchmark", stdout=io.StringIO(), stderr=io.StringIO(), **options)
    assert str(refused.value) == message
