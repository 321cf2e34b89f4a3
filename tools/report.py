"""The benchmark's report: figures, ratios and each target's verdict, as JSON-able data and as
the lines `manage.py benchmark` prints."""

from __future__ import annotations

import os
import statistics
from typing import TYPE_CHECKING, Any

from django.conf import settings

from .accuracy import accuracy_lines
from .realtime_latency import realtime_lines

if TYPE_CHECKING:
    from .figures import Figures
    from .local_platform import LocalPlatform
    from .options import BenchmarkOptions

# The targets of issue 6, on a 2-core CPU machine with tiny.en.
TARGET_API_OVER_BARE = 1.03
TARGET_CONCURRENT_OVER_BARE = 1.25
TARGET_FIRST_OVER_WARM = 1.20
TARGET_WORKER_EXTRA_MB = 150.0


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "values": [round(v, 4) for v in values],
    }


def _target(name: str, value: float | None, limit: float, *, at_most: bool) -> dict[str, Any]:
    met = None if value is None else (value <= limit if at_most else value >= limit)
    return {"name": name, "value": value, "limit": limit, "at_most": at_most, "met": met}


def report_build(
    *,
    options: BenchmarkOptions,
    figures: Figures,
    url: str,
    platform: LocalPlatform | None,
    bare_threads: int,
    bare_text: str,
    bare_memory: dict[str, float],
    audio_seconds: float,
    load_before: tuple[float, float, float],
) -> dict[str, Any]:
    f = figures
    api_median = statistics.median(f.api_times)
    api_over_bare = api_median / statistics.median(f.bare_times)
    concurrent_over_bare = statistics.median(f.concurrent_rates) / statistics.median(
        f.sequential_rates
    )
    first_over_warm = f.first_request / api_median if f.first_request is not None else None
    worker_rss = max((m["rss_mb"] for m in f.workers.values()), default=None)
    worker_extra = worker_rss - bare_memory["rss_mb"] if worker_rss is not None else None
    cpu_bare = statistics.median(f.bare_cpu)
    if platform is not None:
        layout = {
            "workers": settings.Q_WORKERS,
            "interactive_workers": settings.INTERACTIVE_WORKERS,
            "cpu_threads_per_worker": settings.WHISPER_CPU_THREADS,
            "preloaded_models": platform.preloaded.split(","),
        }
    else:
        layout = {"workers": len(f.workers) or None}
    return {
        "clip": {
            "path": str(options.clip),
            "bytes": options.clip.stat().st_size,
            "audio_seconds": round(audio_seconds, 3),
        },
        "model": options.model,
        "machine": {
            "cpus": settings.CPU_COUNT,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
        },
        "options": {
            "runs": options.runs,
            "concurrency": options.concurrency,
            "rounds": options.rounds,
            "warmup": options.warmup,
        },
        "platform": {"url": url, "started_here": platform is not None, **layout},
        "bare": {"cpu_threads": bare_threads, "seconds": summary(f.bare_times)},
        "api_sync": {"seconds": summary(f.api_times)},
        "api_over_bare": api_over_bare,
        # Each API request less the bare run just before it, in ms: the platform's own cost per
        # request, steadier than the ratio of medians when the machine's speed drifts (both
        # runs of a pair see the same machine).
        "api_minus_bare_ms": summary(
            [(api - bare) * 1000 for api, bare in zip(f.api_times, f.bare_times, strict=True)]
        ),
        # CPU seconds per transcription: the bare engine's, and all the platform's processes'
        # per synchronous request (their idle work while the bare engine ran included).
        "cpu": {
            "bare_per_run": summary(f.bare_cpu),
            "platform_per_request": f.platform_cpu,
            "over_bare": f.platform_cpu / cpu_bare if f.platform_cpu is not None else None,
        },
        "concurrent": {
            "requests": options.concurrency,
            "rounds": options.rounds,
            "audio_seconds_per_second": summary(f.concurrent_rates),
            "bare_sequential_audio_seconds_per_second": summary(f.sequential_rates),
            "latency_seconds": summary(f.latencies),
            "over_bare": concurrent_over_bare,
        },
        "first_request": {"seconds": f.first_request, "over_warm": first_over_warm},
        "memory": {
            "workers": {str(pid): mem for pid, mem in f.workers.items()},
            "worker_rss_mb": worker_rss,
            "bare_process": bare_memory,
            "worker_extra_mb": worker_extra,
        },
        "transcript": {
            "bare": bare_text,
            "all_identical": f.texts == {bare_text},
            "api_identical_to_bare": f.api_texts == {bare_text},
        },
        "targets": [
            _target("api_over_bare", api_over_bare, TARGET_API_OVER_BARE, at_most=True),
            _target(
                "concurrent_over_bare",
                concurrent_over_bare,
                TARGET_CONCURRENT_OVER_BARE,
                at_most=False,
            ),
            _target("first_over_warm", first_over_warm, TARGET_FIRST_OVER_WARM, at_most=True),
            _target("worker_extra_mb", worker_extra, TARGET_WORKER_EXTRA_MB, at_most=True),
        ],
    }


# --- Output -------------------------------------------------------------------------------------


def _verdict(target: dict[str, Any]) -> str:
    sign = "<=" if target["at_most"] else ">="
    state = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
    return f"(target {sign} {target['limit']:g}: {state})"


def _spread(stats: dict[str, Any], unit: str, digits: int = 3) -> str:
    return (
        f"median {stats['median']:.{digits}f} {unit}  min {stats['min']:.{digits}f}  "
        f"max {stats['max']:.{digits}f}  (n={stats['n']})"
    )


def short_lines(report: dict[str, Any]) -> list[str]:
    """The short scenario: figures first, each target's verdict beside its figure."""
    targets = {t["name"]: t for t in report["targets"]}
    platform = report["platform"]
    concurrent = report["concurrent"]
    first = report["first_request"]
    memory = report["memory"]
    machine = report["machine"]
    cpu = report["cpu"]
    where = "started here" if platform["started_here"] else "existing deployment"
    layout = (
        f", {platform['workers']} workers (and {platform['interactive_workers']} kept for "
        f"clients) x {platform['cpu_threads_per_worker']} threads, "
        f"preloading {', '.join(platform['preloaded_models'])}"
        if platform["started_here"]
        else ""
    )
    lines = [
        f"clip               {report['clip']['path']} ({report['clip']['audio_seconds']:.2f} s "
        f"of audio), model {report['model']}",
        f"machine            {machine['cpus']} cpus, load {machine['load_before'][0]:.2f} before, "
        f"{machine['load_after'][0]:.2f} after",
        f"platform           {platform['url']} ({where}{layout})",
        f"bare engine        {_spread(report['bare']['seconds'], 's')}  "
        f"[cpu_threads={report['bare']['cpu_threads'] or 'default'}]",
        f"api warm sync      {_spread(report['api_sync']['seconds'], 's')}",
        f"api / bare         {report['api_over_bare']:.3f}  {_verdict(targets['api_over_bare'])}",
        *(
            [
                f"api - bare         {_spread(report['api_minus_bare_ms'], 'ms', digits=0)}  "
                "(each request less the bare run before it; not a target)"
            ]
            if "api_minus_bare_ms" in report
            else []
        ),
        *(
            [
                f"cpu per request    platform {cpu['platform_per_request']:.3f} s, bare "
                f"{cpu['bare_per_run']['median']:.3f} s = {cpu['over_bare']:.3f} x  (not a target; "
                "less sensitive than wall time to other load)"
            ]
            if cpu["platform_per_request"] is not None
            else []
        ),
        f"concurrent x{concurrent['requests']:<5} "
        f"{_spread(concurrent['audio_seconds_per_second'], 'audio s/s', 1)}",
        f"bare sequential    "
        f"{_spread(concurrent['bare_sequential_audio_seconds_per_second'], 'audio s/s', 1)}",
        f"concurrent / bare  {concurrent['over_bare']:.3f}  "
        f"{_verdict(targets['concurrent_over_bare'])}",
    ]
    if first["seconds"] is None:
        lines.append("first request      skipped (an existing deployment was not started here)")
    else:
        lines.append(
            f"first request      {first['seconds']:.3f} s = {first['over_warm']:.3f} x warm  "
            f"{_verdict(targets['first_over_warm'])}"
        )
    bare_rss = memory["bare_process"]["rss_mb"]
    if memory["worker_rss_mb"] is None:
        lines.append(
            f"worker RSS         not found on this machine (bare process {bare_rss:.0f} MB)"
        )
    else:
        lines.append(
            f"worker RSS         {memory['worker_rss_mb']:.0f} MB (largest of "
            f"{len(memory['workers'])}), bare process {bare_rss:.0f} MB, "
            f"{memory['worker_extra_mb']:+.0f} MB  {_verdict(targets['worker_extra_mb'])}"
        )
    same = "identical" if report["transcript"]["all_identical"] else "DIFFERENT"
    lines.append(f"transcripts        {same}: {report['transcript']['bare']!r}")
    api_same = "yes" if report["transcript"]["api_identical_to_bare"] else "NO"
    lines.append(f"api text = bare    {api_same} (every answer of the platform, word for word)")
    return lines


def _runs(figures: dict[str, Any]) -> str:
    """Each run's WER, when there were several (the figure shown is their median)."""
    wers = figures.get("wers") or []
    if len(wers) < 2:
        return ""
    return " (median of " + ", ".join(f"{w * 100:.2f}" for w in wers) + ")"


def long_lines(long: dict[str, Any]) -> list[str]:
    """The long scenario: the bare engine, then one row per platform layout."""
    bare = long["bare"]
    audio = long["file"]
    where = "started here" if long["platform"]["started_here"] else long["platform"]["url"]
    lines = [
        f"file               {audio['audio_seconds']:.1f} s of English, {len(audio['clips'])} clips "
        f"with 1-3 s pauses, {audio['reference_words']} reference words; model {long['model']}",
        f"bare engine        {_spread(bare['seconds'], 's', 1)}  [cpu_threads=default], "
        f"WER {bare['wer'] * 100:.2f} %{_runs(bare)}",
        f"platform           {where}, one synchronous request at a time",
        "workers  cpu threads/worker  latency s  latency/bare  WER %  |WER - bare| points  "
        "text = bare",
    ]
    overhead_only = False
    for row in long["rows"]:
        workers = "deploy" if row["workers"] is None else str(row["workers"])
        threads = "?" if row["cpu_threads_per_worker"] is None else row["cpu_threads_per_worker"]
        more = row["workers"] is not None and row["workers"] > long["cpus"]
        overhead_only |= more
        lines.append(
            f"{workers:>7}  {threads:>18}  {row['seconds']['median']:>9.1f}  "
            f"{row['over_bare']:>12.3f}  {row['wer'] * 100:>5.2f}   "
            f"{row['wer_points_from_bare']:>19.2f}  "
            f"{'yes' if row['text_identical_to_bare'] else 'no':>11}"
            f"{'  (overhead only)' if more else ''}"
        )
    for row in long["rows"]:
        if len(row.get("wers", [])) > 1:
            workers = "deployment" if row["workers"] is None else f"{row['workers']} workers"
            lines.append(f"WER per run        {workers}:{_runs(row)}")
    if overhead_only:
        lines.append(
            f"note               more workers than the {long['cpus']} cores (e.g. 4 workers on 2 "
            "cores) only shows the overhead: no core is left to run a chunk on"
        )
    return lines


def fairness_lines(fairness: dict[str, Any]) -> list[str]:
    """The fairness scenario: B's latency idle and behind A's backlog, and the ratio."""
    a = fairness["tenant_a"]
    b = fairness["tenant_b"]
    ratio = fairness["loaded_over_idle"]
    target = fairness["target"]
    platform = fairness["platform"]
    layout = (
        f", {platform['workers']} workers x {platform['cpu_threads_per_worker']} threads"
        if platform["started_here"]
        else ""
    )
    left = ", ".join(f"{n} {status}" for status, n in sorted(a["statuses_after_b"].items()))
    state = "met" if target["met"] else "MISSED"
    backlog = ", ".join(f"{n['queued']}/{n['running']}" for n in b["a_backlog_when_sent"])
    return [
        f"platform           {platform['url']} "
        f"({'started here' if platform['started_here'] else 'existing deployment'}{layout})",
        f"tenant A           {a['jobs']} async jobs of {a['clip']} with {a['model']}, submitted "
        f"in {a['submit_seconds']:.2f} s; when B was done: {left}",
        f"tenant B idle      {_spread(b['idle_seconds'], 's')}  ({b['clip']}, {b['model']}, sync)",
        f"tenant B loaded    {_spread(b['loaded_seconds'], 's')}  (A's jobs queued/running "
        f"as each was sent: {backlog})",
        f"loaded / idle      median {ratio['median']:.2f} x, max {ratio['max']:.2f} x  "
        f"(target median <= {target['limit']:g}: {state})",
    ]


def diarization_lines(figures: dict[str, Any]) -> list[str]:
    """The diarization scenario: its time against the transcription's, on the same audio."""
    transcribe = sorted(figures["transcribe_seconds"])[len(figures["transcribe_seconds"]) // 2]
    diarize = sorted(figures["diarize_seconds"])[len(figures["diarize_seconds"]) // 2]
    target = figures["target"]
    return [
        f"conversation       {figures['audio_seconds']} s, {figures['voices']} voices taking "
        f"turns; speakers found {figures['speakers_found']}",
        f"worker time        transcribe ({figures['model']}, word times) {transcribe:.2f} s, "
        f"diarize {diarize:.2f} s (medians of {len(figures['diarize_seconds'])})",
        f"diarize / transcr. {figures['share']:.3f}  (target <= {target['limit']:g}: "
        f"{'met' if target['met'] else 'MISSED'})",
    ]


def report_lines(report: dict[str, Any]) -> list[str]:
    """The human-readable summary of every scenario that ran, one section each."""
    lines: list[str] = []
    sections = [
        ("short", short_lines, report if "clip" in report else None),
        ("long", long_lines, report.get("long")),
        ("fairness", fairness_lines, report.get("fairness")),
        ("diarization", diarization_lines, report.get("diarization")),
        ("realtime", realtime_lines, report.get("realtime")),
        ("accuracy", accuracy_lines, report.get("accuracy")),
    ]
    for name, build, figures in sections:
        if figures is None:
            continue
        if len(report.get("scenarios", ["short"])) > 1:
            lines.append(f"--- {name} " + "-" * (90 - len(name)))
        lines.extend(build(figures))
    return lines
