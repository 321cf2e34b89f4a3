"""The realtime scenario: live transcription (`/v1/realtime?intent=transcription`) measured as a
caller feels it, with the official SDK's realtime client streaming the clip at the pace it
plays (tools/realtime_client.py), server VAD with `silence_duration_ms` 500:

- end of turn: from `input_audio_buffer.speech_stopped` (the server saw the speech end) to the
  turn's `completed` (target: median under 700 ms);
- first delta: from `speech_started` to the turn's first `delta` (target: 1.5 s);
- 4 sessions at once, each streaming the clip in real time: the same end-of-turn latency, and
  whether it stays bounded (the last turns no slower than twice the first ones: a platform
  slower than real time falls further behind with every turn);
- accuracy: the word error rate of the live text against the clip's reference, next to the same
  clip's through `POST /v1/audio/transcriptions` (target: within 2 points).
"""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from .live_platform import LivePlatform
from .local_platform import LocalPlatform
from .longaudio import JFK
from .measure import api_base
from .options import BenchmarkOptions, resolve_model
from .realtime_client import Run, audio_bytes, session_config, stream
from .wer import word_error_rate

SILENCE_MS = 500
TARGET_END_OF_TURN = 0.7
TARGET_FIRST_DELTA = 1.5
WER_POINTS = 2.0
CONCURRENT_SESSIONS = 4
COMPLETED = "conversation.item.input_audio_transcription.completed"
DELTA = "conversation.item.input_audio_transcription.delta"


def _turn_figures(run: Run) -> tuple[list[float], list[float]]:
    """Per turn, in order: speech_stopped -> completed, speech_started -> first delta."""
    ends, firsts = [], []
    for committed in run.of_type("input_audio_buffer.committed"):
        item = committed["item_id"]
        stopped = run.at("input_audio_buffer.speech_stopped", item)
        started = run.at("input_audio_buffer.speech_started", item)
        completed = run.at(COMPLETED, item)
        delta = run.at(DELTA, item)
        if stopped is not None and completed is not None:
            ends.append(completed - stopped)
        if started is not None and delta is not None:
            firsts.append(delta - started)
    return ends, firsts


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _file_text(url: str, key: str, clip: Path, model: str) -> str:
    with clip.open("rb") as f:
        response = httpx.post(
            f"{api_base(url)}/audio/transcriptions",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": (clip.name, f)},
            data={"model": model},
            timeout=600,
        )
    response.raise_for_status()
    return response.json()["text"]


def realtime_run(*, options: BenchmarkOptions, progress) -> dict[str, Any]:
    resolve_model(options.model)
    platform: LivePlatform | None = None
    try:
        if options.url:
            url, key = options.url, options.key or ""
        else:
            platform = LocalPlatform(model_id=resolve_model(options.model))
            progress(f"realtime: starting a platform in {platform.var_dir}")
            platform.prepare(tenant=LocalPlatform.TENANT, name="Benchmark")
            platform.start(workers_ready=platform.workers, model=platform.model_id)
            url, key = platform.url, platform.key
        base = api_base(url)
        audio = audio_bytes(options.clip)
        session = session_config(model=options.model, vad={"silence_duration_ms": SILENCE_MS})

        def one() -> Run:
            return stream(base_url=base, api_key=key, audio=audio, session=session)

        file_text = _file_text(url, key, options.clip, options.model)  # also a warm-up
        one()  # untimed: the first session warms the turn detector and the workers
        ends: list[float] = []
        firsts: list[float] = []
        live_texts = []
        runs = max(1, options.long_runs)
        for index in range(runs):
            run = one()
            turn_ends, turn_firsts = _turn_figures(run)
            ends += turn_ends
            firsts += turn_firsts
            live_texts.append(run.transcript)
            progress(
                f"realtime: session {index + 1}/{runs}: {len(turn_ends)} turns, end of turn "
                f"median {_median(turn_ends) or 0:.3f} s"
            )
        with ThreadPoolExecutor(CONCURRENT_SESSIONS) as pool:
            concurrent = list(pool.map(lambda _: one(), range(CONCURRENT_SESSIONS)))
        concurrent_ends = [_turn_figures(run)[0] for run in concurrent]
        flat = [value for values in concurrent_ends for value in values]
        first_turns = [values[0] for values in concurrent_ends if values]
        last_turns = [values[-1] for values in concurrent_ends if values]
        bounded = bool(first_turns) and max(last_turns) <= 2 * max(max(first_turns), 0.5)
        progress(
            f"realtime: {CONCURRENT_SESSIONS} sessions: end of turn median {_median(flat) or 0:.3f} s"
        )
    finally:
        if platform is not None:
            progress("realtime: stopping the platform")
            platform.stop()
    reference = JFK.reference if options.clip.name == "jfk.flac" else file_text
    live_wer = [word_error_rate(reference, text) for text in live_texts]
    file_wer = word_error_rate(reference, file_text)
    points = 100 * (statistics.median(live_wer) - file_wer)
    end_median, first_median = _median(ends), _median(firsts)
    return {
        "clip": str(options.clip),
        "model": options.model,
        "silence_duration_ms": SILENCE_MS,
        "end_of_turn_seconds": ends,
        "first_delta_seconds": firsts,
        "concurrent_sessions": CONCURRENT_SESSIONS,
        "concurrent_end_of_turn_seconds": concurrent_ends,
        "concurrent_bounded": bounded,
        "reference": "jfk.flac's own" if reference is not file_text else "the file's transcript",
        "live_texts": live_texts,
        "file_text": file_text,
        "live_wer": live_wer,
        "file_wer": file_wer,
        "targets": {
            "end_of_turn": {
                "limit": TARGET_END_OF_TURN,
                "value": end_median,
                "met": end_median is not None and end_median < TARGET_END_OF_TURN,
            },
            "first_delta": {
                "limit": TARGET_FIRST_DELTA,
                "value": first_median,
                "met": first_median is not None and first_median <= TARGET_FIRST_DELTA,
            },
            "wer_points": {"limit": WER_POINTS, "value": points, "met": points <= WER_POINTS},
            "concurrent": {"met": bounded},
        },
        "started_at": time.time(),
    }


def realtime_lines(figures: dict[str, Any]) -> list[str]:
    targets = figures["targets"]

    def verdict(name: str) -> str:
        return "met" if targets[name]["met"] else "MISSED"

    def spread(values: list[float]) -> str:
        if not values:
            return "no turns"
        return f"median {statistics.median(values):.3f} s, min {min(values):.3f}, max {max(values):.3f} (n={len(values)})"

    flat = [v for values in figures["concurrent_end_of_turn_seconds"] for v in values]
    lasts = ", ".join(
        f"{values[-1]:.2f}" for values in figures["concurrent_end_of_turn_seconds"] if values
    )
    return [
        f"clip               {figures['clip']} ({figures['model']}), server VAD, silence "
        f"{figures['silence_duration_ms']} ms, streamed in real time",
        f"end of turn        {spread(figures['end_of_turn_seconds'])}  (target median < "
        f"{targets['end_of_turn']['limit']:g} s: {verdict('end_of_turn')})",
        f"first delta        {spread(figures['first_delta_seconds'])} after speech started  "
        f"(target <= {targets['first_delta']['limit']:g} s: {verdict('first_delta')})",
        f"{figures['concurrent_sessions']} sessions at once end of turn {spread(flat)}; last turn of each "
        f"{lasts} s  (bounded: {verdict('concurrent')})",
        f"WER                live {statistics.median(figures['live_wer']) * 100:.2f} %, file "
        f"{figures['file_wer'] * 100:.2f} % against {figures['reference']} reference "
        f"({targets['wer_points']['value']:+.2f} points; target <= {WER_POINTS:g}: "
        f"{verdict('wer_points')})",
    ]
