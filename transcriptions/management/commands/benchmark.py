"""`manage.py benchmark`: the platform against bare faster-whisper (tools/benchmark.py)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tools.benchmark import (
    DEFAULT_ACCURACY_MODEL,
    DEFAULT_CLIP,
    DEFAULT_LONG_MODEL,
    DEFAULT_MODEL,
    SCENARIOS,
    BenchmarkError,
    BenchmarkOptions,
    benchmark_run,
    parse_scenarios,
    parse_workers,
    report_lines,
)


class Command(BaseCommand):
    help = (
        "Time the bare engine and the platform's API, scenario by scenario: short (one clip: "
        "warm synchronous latency, concurrent throughput, first request after start, worker "
        "memory), long (ten minutes of audio with 1, 2 and 4 workers, and word error rates), "
        "fairness (a tenant's short requests behind another tenant's backlog of jobs), "
        "diarization (its cost against the transcription's), realtime (live transcription "
        "over /v1/realtime: end-of-turn latency, first delta, 4 sessions at once, WER), accuracy "
        "(conversations of real voices: coverage, WER, diarization, distinct texts, segments "
        "past the end, live deltas, against the bare engine)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--scenarios",
            default=",".join(SCENARIOS),
            help=f"which to run, comma-separated (default: {','.join(SCENARIOS)})",
        )
        short = parser.add_argument_group("short scenario")
        short.add_argument("--file", type=Path, default=DEFAULT_CLIP, help="audio clip")
        short.add_argument(
            "--model", default=DEFAULT_MODEL, help="a model id or alias from GET /v1/models"
        )
        short.add_argument("--runs", type=int, default=10, help="interleaved bare/API pairs")
        short.add_argument("--concurrency", type=int, default=8, help="requests sent at once")
        short.add_argument("--rounds", type=int, default=3, help="concurrent rounds")
        short.add_argument("--warmup", type=int, default=2, help="untimed API requests first")
        short.add_argument(
            "--bare-threads",
            type=int,
            help="the bare engine's cpu_threads (default: a worker's; 0: faster-whisper's own)",
        )
        short.add_argument(
            "--preload-all",
            action="store_true",
            help="the started platform's workers load every model, not only the benchmarked one",
        )
        long = parser.add_argument_group("long scenario")
        long.add_argument(
            "--long-model",
            default=DEFAULT_LONG_MODEL,
            help=f"model for the ten-minute file (default {DEFAULT_LONG_MODEL}: the scenario "
            "transcribes it 1 + 3 times, which takes minutes even with the smallest model)",
        )
        long.add_argument(
            "--long-workers",
            default="1,2,4",
            help="worker counts of the platforms it starts, one after the other (default 1,2,4)",
        )
        long.add_argument("--long-runs", type=int, default=1, help="timed runs of each side")
        fairness = parser.add_argument_group("fairness scenario")
        fairness.add_argument(
            "--fairness-jobs", type=int, default=8, help="tenant A's async jobs (60 s each)"
        )
        fairness.add_argument(
            "--fairness-probes",
            type=int,
            default=5,
            help="tenant B's timed requests, idle and then at most as many behind A's backlog",
        )
        accuracy = parser.add_argument_group("accuracy scenario")
        accuracy.add_argument(
            "--accuracy-model",
            default=DEFAULT_ACCURACY_MODEL,
            help=f"model for the words and the bare engine (default {DEFAULT_ACCURACY_MODEL}; "
            "the speakers come from gpt-4o-transcribe-diarize)",
        )
        accuracy.add_argument(
            "--accuracy-runs", type=int, default=5, help="runs of each conversation (default 5)"
        )
        accuracy.add_argument(
            "--conversations",
            default="",
            help="which built conversations, comma-separated (default: all)",
        )
        accuracy.add_argument(
            "--no-live",
            action="store_true",
            help="leave out the live session per conversation (real time: as long as the audio)",
        )
        where = parser.add_argument_group("an existing deployment")
        where.add_argument("--url", help="an existing deployment instead of starting one")
        where.add_argument("--key", help="an API key of that deployment (tenant A in fairness)")
        where.add_argument("--key-b", help="fairness: an API key of a second tenant")
        parser.add_argument("--json", type=Path, help="also write the figures to this file")

    def handle(self, *args, **options) -> None:
        try:
            benchmark_options = BenchmarkOptions(
                scenarios=parse_scenarios(options["scenarios"]),
                clip=options["file"],
                model=options["model"],
                runs=options["runs"],
                concurrency=options["concurrency"],
                rounds=options["rounds"],
                warmup=options["warmup"],
                url=options["url"],
                key=options["key"],
                bare_threads=options["bare_threads"],
                preload_all=options["preload_all"],
                long_model=options["long_model"],
                long_workers=parse_workers(options["long_workers"]),
                long_runs=options["long_runs"],
                fairness_jobs=options["fairness_jobs"],
                fairness_probes=options["fairness_probes"],
                key_b=options["key_b"],
                accuracy_model=options["accuracy_model"],
                accuracy_runs=options["accuracy_runs"],
                accuracy_conversations=tuple(
                    name.strip() for name in options["conversations"].split(",") if name.strip()
                ),
                accuracy_live=not options["no_live"],
            )
        except BenchmarkError as exc:
            raise CommandError(str(exc)) from exc

        def progress(message: str) -> None:
            self.stderr.write(f"... {message}")
            self.stderr.flush()

        try:
            report = benchmark_run(options=benchmark_options, progress=progress)
        except BenchmarkError as exc:
            raise CommandError(str(exc)) from exc
        for line in report_lines(report):
            self.stdout.write(line)
        if options["json"]:
            options["json"].write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"figures written to {options['json']}")
