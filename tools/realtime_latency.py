"""The realtime scenario: live transcription (`/v1/realtime?intent=transcription`) measured as a
caller feels it, with the official SDK's realtime client streaming the clip at the pace it
plays (tools/realtime_client.py), server VAD with `silence_duration_ms` 500:

- end of turn: from `input_audio_buffer.speech_stopped` (the server saw the speech end) to the
  turn's `completed` (target: median under 700 ms);
- first delta: from `speech_started` to the turn's first `delta` (target: 1.5 s);
- 4 sessions at once, each streaming the clip in real time: the same end-of-turn latency, and
  whether it stays bounded. Each turn's latency is divided by the same turn's in the single
  session (turns differ in length: the clip's last is 29 s of speech, its first 2.7 s), and the
  slowdown of the last turn may be at most twice the first's: a platform slower than real time
  falls further behind with every turn, so its slowdown grows;
- accuracy: the word error rate of the live text against the clip's reference, next to the same
  clip's through `POST /v1/audio/transcriptions` (target: within 2 points).

The clip is built from the shipped recordings (tools/longaudio.py: jfk, hotwords and the MIT
licence read in English, with pauses between them, about 48 s and 110 words) unless --clip names
another: jfk.flac alone has 22 words, so one word is 4.5 points, more than the target's
tolerance.
"""

import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from .live_platform import LivePlatform
from .local_platform import LocalPlatform
from .longaudio import build
from .measure import api_base
from .options import DEFAULT_CLIP, BenchmarkOptions, resolve_model
from .realtime_client import Run, audio_bytes, session_config, stream
from .wer import word_error_rate

SILENCE_MS = 500
TARGET_END_OF_TURN = 0.7
TARGET_FIRST_DELTA = 1.5
WER_POINTS = 2.0
CONCURRENT_SESSIONS = 4
# The built clip: jfk, hotwords and the MIT licence once each (tools/longaudio.layout).
BUILT_CLIP_SECONDS = 40.0
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


def joined_turns(run: Run) -> tuple[int, int]:
    """How many of a run's completed turns had deltas that add up to their `completed`
    transcript (concatenated, as a client shows them; OpenAI's do), out of how many."""
    deltas: dict[str, str] = {}
    for _, event in run.events:
        if event["type"] == DELTA:
            deltas[event["item_id"]] = deltas.get(event["item_id"], "") + event["delta"]
    done = run.of_type(COMPLETED)
    return sum(deltas.get(e["item_id"], "") == e["transcript"] for e in done), len(done)


def slowdown(turns: list[float], single: list[float]) -> list[float]:
    """Each turn's latency over the same turn's in the single session (as many turns as
    both have)."""
    return [value / max(alone, 0.05) for value, alone in zip(turns, single, strict=False)]


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
    with tempfile.TemporaryDirectory(prefix="whisper-realtime-") as directory:
        if options.clip == DEFAULT_CLIP:
            built = build(Path(directory), BUILT_CLIP_SECONDS)
            clip, reference = built.path, built.reference
        else:
            clip, reference = options.clip, None
        return _realtime_run(options, progress, clip=clip, reference=reference)


def _realtime_run(
    options: BenchmarkOptions, progress, *, clip: Path, reference: str | None
) -> dict[str, Any]:
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
        audio = audio_bytes(clip)
        session = session_config(model=options.model, vad={"silence_duration_ms": SILENCE_MS})

        def one() -> Run:
            return stream(base_url=base, api_key=key, audio=audio, session=session)

        file_text = _file_text(url, key, clip, options.model)  # also a warm-up
        # Untimed: a first session (jfk.flac) warms the turn detector and the workers.
        warm = stream(base_url=base, api_key=key, audio=audio_bytes(DEFAULT_CLIP), session=session)
        sessions = [warm]  # every session, for how many turns' deltas joined
        ends: list[float] = []
        firsts: list[float] = []
        single: list[float] = []  # the first single session's, per turn
        live_texts = []
        runs = max(1, options.long_runs)
        for index in range(runs):
            run = one()
            sessions.append(run)
            turn_ends, turn_firsts = _turn_figures(run)
            ends += turn_ends
            firsts += turn_firsts
            single = single or turn_ends
            live_texts.append(run.transcript)
            progress(
                f"realtime: session {index + 1}/{runs}: {len(turn_ends)} turns, end of turn "
                f"median {_median(turn_ends) or 0:.3f} s"
            )
        with ThreadPoolExecutor(CONCURRENT_SESSIONS) as pool:
            concurrent = list(pool.map(lambda _: one(), range(CONCURRENT_SESSIONS)))
        sessions += concurrent
        concurrent_ends = [_turn_figures(run)[0] for run in concurrent]
        flat = [value for values in concurrent_ends for value in values]
        slowdowns = [slowdown(values, single) for values in concurrent_ends]
        bounded = bool(slowdowns) and all(s and s[-1] <= 2 * max(s[0], 1.0) for s in slowdowns)
        progress(
            f"realtime: {CONCURRENT_SESSIONS} sessions: end of turn median {_median(flat) or 0:.3f} s"
        )
    finally:
        if platform is not None:
            progress("realtime: stopping the platform")
            platform.stop()
    reference_name = "the built clip's"
    if reference is None:
        reference, reference_name = file_text, "the file's transcript"
    live_wer = [word_error_rate(reference, text) for text in live_texts]
    file_wer = word_error_rate(reference, file_text)
    points = 100 * (statistics.median(live_wer) - file_wer)
    end_median, first_median = _median(ends), _median(firsts)
    joins = [joined_turns(run) for run in sessions]
    return {
        "clip": str(options.clip) if clip == options.clip else f"built: {clip.name}",
        "model": options.model,
        "silence_duration_ms": SILENCE_MS,
        "end_of_turn_seconds": ends,
        "first_delta_seconds": firsts,
        "joined_turns": [sum(j for j, _ in joins), sum(n for _, n in joins)],
        "concurrent_sessions": CONCURRENT_SESSIONS,
        "concurrent_end_of_turn_seconds": concurrent_ends,
        "concurrent_slowdowns": slowdowns,
        "concurrent_bounded": bounded,
        "reference": reference_name,
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
        f"{values[0]:.1f}x -> {values[-1]:.1f}x"
        for values in figures.get("concurrent_slowdowns", [])
        if values
    )
    return [
        f"clip               {figures['clip']} ({figures['model']}), server VAD, silence "
        f"{figures['silence_duration_ms']} ms, streamed in real time",
        f"end of turn        {spread(figures['end_of_turn_seconds'])}  (target median < "
        f"{targets['end_of_turn']['limit']:g} s: {verdict('end_of_turn')})",
        f"first delta        {spread(figures['first_delta_seconds'])} after speech started  "
        f"(target <= {targets['first_delta']['limit']:g} s: {verdict('first_delta')})",
        "deltas joined      {} of {} turns (every session's, the untimed one's too: the "
        "deltas concatenated are the completed transcript)".format(
            *figures.get("joined_turns", ["?", "?"])
        ),
        f"{figures['concurrent_sessions']} sessions at once end of turn {spread(flat)}; slowdown "
        f"against one session, first turn -> last, per session: {lasts}  (bounded, the last at "
        f"most twice the first: {verdict('concurrent')})",
        f"WER                live {statistics.median(figures['live_wer']) * 100:.2f} %, file "
        f"{figures['file_wer'] * 100:.2f} % against {figures['reference']} reference "
        f"({targets['wer_points']['value']:+.2f} points; target <= {WER_POINTS:g}: "
        f"{verdict('wer_points')})",
    ]
