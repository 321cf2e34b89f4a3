"""The accuracy scenario: the built conversations (tools/conversations.py: real voices, levels up
to 10 dB apart, overlaps, short turns) through the platform and through the bare engine, each
figure side by side, against each conversation's ground truth.

Per conversation, `--accuracy-runs` times (default 5): the bare engine's long-form pass
(faster-whisper in this process on the whole file, the platform's model files and decode
options, its own default threads), then `POST /v1/audio/transcriptions` with `whisper-1`
(`verbose_json`, word and segment timestamps), then with `gpt-4o-transcribe-diarize`
(`diarized_json`); once more the bare engine with word timestamps, for its coverage. Then one
live session per conversation (`/v1/realtime`, the file streamed at the pace it plays, server
VAD), whose turns' deltas should join to each turn's transcript.

Figures: coverage (the share of the speech Silero's VAD hears that the words' timestamps cover),
WER against the reference text, diarization accuracy (the share of the true speech time whose
label maps to the right speaker, best one-to-one mapping), distinct texts over the runs,
segments ending past the audio's end, the median seconds of each request and bare pass, and the
live turns whose deltas join to their transcript.
"""

import itertools
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from . import accuracy_metrics as metrics
from . import conversations
from .local_platform import LocalPlatform
from .measure import REQUEST_TIMEOUT, BareEngine, BenchmarkError, api_base
from .options import BenchmarkOptions, resolve_model
from .realtime_client import audio_bytes, session_config, stream
from .wer import word_error_rate

DIARIZE_MODEL = "gpt-4o-transcribe-diarize"
LIVE_SILENCE_MS = 500
TARGETS = {
    "coverage": 0.99,
    "diarization": 0.90,
    "distinct_texts": 1,
    "past_end": 0,
    "live_joined": 0.95,
}


def _post(client: httpx.Client, url: str, path: Path, fields: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    with path.open("rb") as audio:
        try:
            response = client.post(url, files={"file": (path.name, audio)}, data=fields)
        except httpx.HTTPError as exc:
            raise BenchmarkError(f"the request failed: {exc!r}") from exc
    if response.status_code != 200:
        raise BenchmarkError(f"the API answered {response.status_code}: {response.text[:500]}")
    return time.perf_counter() - started, response.json()


def _bare_pass(bare: BareEngine, path: Path, *, words: bool) -> tuple[float, str, list, list]:
    """(seconds, text, segments, words) of one long-form pass on the whole file."""
    started = time.perf_counter()
    segments, _ = bare.model.transcribe(str(path), **{**bare.options, "word_timestamps": words})
    segments = list(segments)
    seconds = time.perf_counter() - started
    return (
        seconds,
        "".join(s.text for s in segments).strip(),
        [{"start": s.start, "end": s.end} for s in segments],
        [{"start": w.start, "end": w.end} for s in segments for w in (s.words or [])],
    )


def _truth_spans(truth: dict) -> list[tuple[str, float, float]]:
    return [(t["speaker"], t["start"], t["end"]) for t in truth["turns"]]


def _one(
    *,
    path: Path,
    truth: dict,
    bare: BareEngine,
    client: httpx.Client,
    url: str,
    options: BenchmarkOptions,
    progress,
) -> dict[str, Any]:
    from faster_whisper import decode_audio

    samples = decode_audio(str(path), sampling_rate=metrics.SAMPLE_RATE)
    seconds = len(samples) / metrics.SAMPLE_RATE
    regions = metrics.speech_regions(samples)
    reference = truth["reference"]
    bare_runs, api_runs, diarized_runs = [], [], []
    for run in range(options.accuracy_runs):
        took, text, _, _ = _bare_pass(bare, path, words=False)
        bare_runs.append({"seconds": took, "text": text, "wer": word_error_rate(reference, text)})
        took, body = _post(
            client,
            url,
            path,
            {
                "model": options.accuracy_model,
                "response_format": "verbose_json",
                "timestamp_granularities[]": ["word", "segment"],
            },
        )
        covered, missed = metrics.coverage(regions, body.get("words") or [])
        api_runs.append(
            {
                "seconds": took,
                "text": body["text"],
                "wer": word_error_rate(reference, body["text"]),
                "coverage": covered,
                "uncovered": missed,
                "past_end": metrics.segments_past_end(body.get("segments") or [], seconds)
                + metrics.segments_past_end(body.get("words") or [], seconds),
            }
        )
        took, body = _post(
            client, url, path, {"model": DIARIZE_MODEL, "response_format": "diarized_json"}
        )
        labelled = [(s["speaker"], s["start"], s["end"]) for s in body["segments"]]
        accuracy, mapping = metrics.diarization_accuracy(_truth_spans(truth), labelled, seconds)
        diarized_runs.append(
            {
                "seconds": took,
                "text": body["text"],
                "accuracy": accuracy,
                "mapping": mapping,
                "past_end": metrics.segments_past_end(body["segments"], seconds),
            }
        )
        progress(
            f"accuracy, {truth['name']}: run {run + 1}/{options.accuracy_runs}: WER bare "
            f"{bare_runs[-1]['wer'] * 100:.1f} %, api {api_runs[-1]['wer'] * 100:.1f} %, "
            f"coverage {api_runs[-1]['coverage'] * 100:.1f} %, diarization {accuracy * 100:.1f} %"
        )
    # faster-whisper seeks by the last word's end with word times on: this pass's text may
    # differ from the plain one's, so its WER is kept too.
    _, words_text, bare_segments, bare_words = _bare_pass(bare, path, words=True)
    bare_covered, bare_missed = metrics.coverage(regions, bare_words)
    return {
        "name": truth["name"],
        "seconds": round(seconds, 3),
        "speakers": truth["speakers"],
        "turns": len(truth["turns"]),
        "overlaps": sum(1 for a, b in itertools.pairwise(truth["turns"]) if b["start"] < a["end"]),
        "speech_seconds": round(sum(end - start for start, end in regions), 2),
        "bare": {
            "seconds": statistics.median(r["seconds"] for r in bare_runs),
            "wer": statistics.median(r["wer"] for r in bare_runs),
            "distinct_texts": len({r["text"] for r in bare_runs}),
            "words_pass_wer": word_error_rate(reference, words_text),
            "coverage": bare_covered,
            "uncovered": bare_missed,
            "past_end": metrics.segments_past_end(bare_segments, seconds)
            + metrics.segments_past_end(bare_words, seconds),
            "text": bare_runs[0]["text"],
        },
        "api": {
            "seconds": statistics.median(r["seconds"] for r in api_runs),
            "wer": statistics.median(r["wer"] for r in api_runs),
            "wers": [r["wer"] for r in api_runs],
            "distinct_texts": len({r["text"] for r in api_runs}),
            "coverage": statistics.median(r["coverage"] for r in api_runs),
            "coverages": [r["coverage"] for r in api_runs],
            "uncovered": api_runs[0]["uncovered"],
            "past_end": max(r["past_end"] for r in api_runs),
            "text": api_runs[0]["text"],
        },
        "diarized": {
            "seconds": statistics.median(r["seconds"] for r in diarized_runs),
            "accuracy": statistics.median(r["accuracy"] for r in diarized_runs),
            "accuracies": [r["accuracy"] for r in diarized_runs],
            "mapping": diarized_runs[0]["mapping"],
            "distinct_texts": len({r["text"] for r in diarized_runs}),
            "past_end": max(r["past_end"] for r in diarized_runs),
        },
    }


def _live(*, url: str, key: str, path: Path, options: BenchmarkOptions) -> dict[str, Any]:
    """One session streaming the file at the pace it plays."""
    session = session_config(
        model=options.accuracy_model, vad={"silence_duration_ms": LIVE_SILENCE_MS}
    )
    run = stream(base_url=api_base(url), api_key=key, audio=audio_bytes(path), session=session)
    joined, completed, others = metrics.deltas_joined([event for _, event in run.events])
    return {"turns": completed, "joined": joined, "not_joined": others, "text": run.transcript}


def accuracy_run(*, options: BenchmarkOptions, progress) -> dict[str, Any]:
    model_id = resolve_model(options.accuracy_model)
    found = [
        (path, truth)
        for path, truth in conversations.load()
        if not options.accuracy_conversations or truth["name"] in options.accuracy_conversations
    ]
    progress(f"accuracy: loading {options.accuracy_model} for the bare engine (default threads)")
    bare = BareEngine(model_id=model_id, threads=0)
    bare.run(found[0][0])  # the first inference warms up
    platform: LocalPlatform | None = None
    rows = []
    try:
        if options.url:
            url, key = options.url, options.key or ""
        else:
            platform = LocalPlatform(model_id=model_id)
            progress(f"accuracy: starting a platform in {platform.var_dir}")
            platform.prepare(tenant=LocalPlatform.TENANT, name="Benchmark")
            platform.start(workers_ready=platform.workers, model=model_id)
            url, key = platform.url, platform.key
        endpoint = f"{api_base(url)}/audio/transcriptions"
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(headers=headers, timeout=REQUEST_TIMEOUT) as client:
            _post(client, endpoint, found[0][0], {"model": DIARIZE_MODEL})  # warms the workers
            for path, truth in found:
                row = _one(
                    path=path,
                    truth=truth,
                    bare=bare,
                    client=client,
                    url=endpoint,
                    options=options,
                    progress=progress,
                )
                if options.accuracy_live:
                    row["live"] = _live(url=url, key=key, path=path, options=options)
                    row["live"]["wer"] = word_error_rate(truth["reference"], row["live"]["text"])
                    progress(
                        f"accuracy, {truth['name']}: live {row['live']['joined']}/"
                        f"{row['live']['turns']} turns' deltas join to their transcript"
                    )
                rows.append(row)
    finally:
        if platform is not None:
            progress("accuracy: stopping the platform")
            platform.stop()
    live_turns = sum(row["live"]["turns"] for row in rows if "live" in row)
    live_joined = sum(row["live"]["joined"] for row in rows if "live" in row)
    return {
        "model": options.accuracy_model,
        "diarize_model": DIARIZE_MODEL,
        "runs": options.accuracy_runs,
        "platform": {"url": options.url, "started_here": platform is not None},
        "conversations": rows,
        "live": {
            "turns": live_turns,
            "joined": live_joined,
            "share": live_joined / live_turns if live_turns else None,
        },
        "targets": TARGETS,
    }


# --- Output -------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _row(label: str, platform: str, bare: str, note: str) -> str:
    return f"{label:<19}{platform:<22}{bare:<14}{note}"


def accuracy_lines(figures: dict[str, Any]) -> list[str]:
    """Each conversation's figures, the platform's beside the bare engine's, with the targets."""
    targets = figures["targets"]
    where = "started here" if figures["platform"]["started_here"] else figures["platform"]["url"]
    lines = [
        f"models             {figures['model']} (words) and {figures['diarize_model']} "
        f"(speakers) through the platform ({where}); the bare engine: the same weights, "
        f"long-form on the whole file; {figures['runs']} runs of each, medians",
    ]
    for row in figures["conversations"]:
        api, bare, diarized = row["api"], row["bare"], row["diarized"]
        voices = ", ".join(f"{name} {v['seconds']:.1f} s" for name, v in row["speakers"].items())
        gains = [v["gain_db"] for v in row["speakers"].values()]
        coverage_met = api["coverage"] >= targets["coverage"]
        diarization_met = diarized["accuracy"] >= targets["diarization"]
        distinct_met = api["distinct_texts"] == diarized["distinct_texts"] == 1
        past_met = api["past_end"] == diarized["past_end"] == 0
        lines += [
            f"--- {row['name']}: {row['seconds']:.1f} s, {len(row['speakers'])} speakers "
            f"({voices}), {row['turns']} turns, {row['overlaps']} overlapping, levels "
            f"{max(gains) - min(gains):.0f} dB apart",
            _row("", "platform", "bare engine", ""),
            _row(
                "coverage",
                _pct(api["coverage"]),
                _pct(bare["coverage"]),
                f"(target >= {targets['coverage'] * 100:.0f} %: {_verdict(coverage_met)})",
            ),
            _row(
                "WER",
                _pct(api["wer"]),
                _pct(bare["wer"]),
                f"(target <= bare: {_verdict(api['wer'] <= bare['wer'])})",
            ),
            f"bare, word times   WER {_pct(bare['words_pass_wer'])} (the bare pass its coverage "
            "is measured on)",
            _row(
                "diarization",
                _pct(diarized["accuracy"]),
                "-",
                f"(target >= {targets['diarization'] * 100:.0f} %: {_verdict(diarization_met)})",
            ),
            _row(
                "distinct texts",
                f"{api['distinct_texts']}, diarized {diarized['distinct_texts']}",
                str(bare["distinct_texts"]),
                f"of {figures['runs']} runs (target 1: {_verdict(distinct_met)})",
            ),
            _row(
                "past the end",
                f"{api['past_end']}, diarized {diarized['past_end']}",
                str(bare["past_end"]),
                f"segments and words (target 0: {_verdict(past_met)})",
            ),
            _row(
                "seconds",
                f"{api['seconds']:.2f}, diarized {diarized['seconds']:.2f}",
                f"{bare['seconds']:.2f}",
                "(not a target)",
            ),
        ]
        if api["uncovered"]:
            stretches = ", ".join(f"{s:.1f}-{e:.1f}" for s, e in api["uncovered"])
            lines.append(f"uncovered speech   {stretches} s (platform, first run)")
        if "live" in row:
            live = row["live"]
            lines.append(
                f"live               {live['joined']} of {live['turns']} turns' deltas join to "
                f"their transcript; WER {_pct(live['wer'])}"
            )
    live = figures["live"]
    if live["share"] is not None:
        lines.append(
            f"live, all          {live['joined']} of {live['turns']} turns = "
            f"{_pct(live['share'])} (target >= {targets['live_joined'] * 100:.0f} %: "
            f"{_verdict(live['share'] >= targets['live_joined'])})"
        )
    return lines
