"""The long scenario: about ten minutes of English (tools/longaudio.py) through the bare engine
and through the platform's synchronous API, with 1, 2 and 4 workers, timed, and each transcript's
word error rate against the reference.

The bare engine is faster-whisper in this process with its own default threads (cpu_threads=0),
the platform's model files and decode options: what one process does with the whole machine. A
platform started here runs Q_WORKERS=n workers of max(1, cores // n) threads each, as its
settings derive them, and no more (INTERACTIVE_WORKERS=0); against a deployment (--url) there is one row, its workers as they are.
"""

import gc
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from . import longaudio
from .local_platform import LocalPlatform
from .measure import ApiClient, BareEngine
from .options import DEFAULT_CLIP, BenchmarkOptions, resolve_model
from .report import summary
from .wer import word_error_rate


def _platform_row(
    *,
    url: str,
    key: str,
    audio: longaudio.LongAudio,
    options: BenchmarkOptions,
    progress,
    label: str,
) -> dict[str, Any]:
    """One untimed short request (the workers' first), then the long file, timed."""
    warm = ApiClient(url=url, key=key, clip=DEFAULT_CLIP, model=options.long_model)
    with warm.connect() as conn:
        warm.transcribe(conn)
    client = ApiClient(url=url, key=key, clip=audio.path, model=options.long_model)
    times, texts = [], []
    for index in range(options.long_runs):
        with client.connect() as conn:
            seconds, text = client.transcribe(conn)
        times.append(seconds)
        texts.append(text)
        progress(f"long, {label}: run {index + 1}/{options.long_runs} {seconds:.1f} s")
    wers = [word_error_rate(audio.reference, text) for text in texts]
    return {
        "seconds": summary(times),
        "text": texts[-1],
        "texts_identical": len(set(texts)) == 1,
        "wer": statistics.median(wers),
        "wers": wers,
    }


def long_run(*, options: BenchmarkOptions, progress) -> dict[str, Any]:
    model_id = resolve_model(options.long_model)
    directory = Path(tempfile.mkdtemp(prefix="whisper-benchmark-long-"))
    try:
        audio = longaudio.build(directory)
        progress(f"long: built {audio.path} ({audio.seconds:.1f} s, {len(audio.pieces)} clips)")
        progress(f"long: loading {options.long_model} for the bare engine (default threads)")
        bare = BareEngine(model_id=model_id, threads=0)
        bare.run(DEFAULT_CLIP)  # the first inference warms up
        bare_times, bare_wers = [], []
        # As in the short scenario: faster-whisper collects garbage on every file, and this
        # process has Django loaded, which a bare faster-whisper process does not.
        gc.collect()
        gc.freeze()
        try:
            for index in range(options.long_runs):
                seconds, bare_text, _ = bare.run(audio.path)
                bare_times.append(seconds)
                bare_wers.append(word_error_rate(audio.reference, bare_text))
                progress(f"long, bare: run {index + 1}/{options.long_runs} {seconds:.1f} s")
        finally:
            gc.unfreeze()
        del bare
        rows = []
        if options.url:
            row = _platform_row(
                url=options.url,
                key=options.key or "",
                audio=audio,
                options=options,
                progress=progress,
                label="deployment",
            )
            rows.append({"workers": None, "cpu_threads_per_worker": None, **row})
        else:
            for workers in options.long_workers:
                # Exactly n worker processes: none more kept for clients (a synchronous request's
                # chunks would run on that one too).
                platform = LocalPlatform(model_id=model_id, workers=workers, interactive_workers=0)
                try:
                    progress(
                        f"long: starting a platform with {workers} workers x "
                        f"{platform.threads} threads"
                    )
                    platform.prepare(tenant=LocalPlatform.TENANT, name="Benchmark")
                    platform.start(workers_ready=workers, model=model_id)
                    row = _platform_row(
                        url=platform.url,
                        key=platform.key,
                        audio=audio,
                        options=options,
                        progress=progress,
                        label=f"{workers} workers",
                    )
                finally:
                    platform.stop()
                rows.append({"workers": workers, "cpu_threads_per_worker": platform.threads, **row})
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    bare_median = statistics.median(bare_times)
    # The median over --long-runs: where Whisper's temperature fallback samples (a window it
    # could not decode at temperature 0), one pass gives other words each time, on the bare
    # engine as on the platform, so a single pass is a noisy reference for a 1-point target.
    bare_wer = statistics.median(bare_wers)
    for row in rows:
        row["over_bare"] = row["seconds"]["median"] / bare_median
        row["wer_points_from_bare"] = abs(row["wer"] - bare_wer) * 100
        row["text_identical_to_bare"] = row["text"] == bare_text
    return {
        "file": {
            "audio_seconds": round(audio.seconds, 3),
            "clips": [piece.clip for piece in audio.pieces],
            "reference_words": len(audio.reference.split()),
        },
        "model": options.long_model,
        "cpus": settings.CPU_COUNT,
        "platform": {"url": options.url, "started_here": not options.url},
        "bare": {
            "cpu_threads": 0,
            "seconds": summary(bare_times),
            "wer": bare_wer,
            "wers": bare_wers,
            "text": bare_text,
        },
        "rows": rows,
    }
