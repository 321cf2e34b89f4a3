"""`manage.py benchmark`: the platform against bare faster-whisper (tools/benchmark.py)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tools.benchmark import (
    DEFAULT_CLIP,
    DEFAULT_MODEL,
    BenchmarkError,
    BenchmarkOptions,
    benchmark_run,
    report_lines,
)


class Command(BaseCommand):
    help = (
        "Time the bare engine and the platform's API on the same clip, interleaved: warm "
        "synchronous latency, concurrent throughput, first request after start, worker memory."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--file", type=Path, default=DEFAULT_CLIP, help="audio clip")
        parser.add_argument(
            "--model", default=DEFAULT_MODEL, help="a model id or alias from GET /v1/models"
        )
        parser.add_argument("--runs", type=int, default=10, help="interleaved bare/API pairs")
        parser.add_argument("--concurrency", type=int, default=8, help="requests sent at once")
        parser.add_argument("--rounds", type=int, default=3, help="concurrent rounds")
        parser.add_argument("--warmup", type=int, default=2, help="untimed API requests first")
        parser.add_argument("--url", help="an existing deployment instead of starting one")
        parser.add_argument("--key", help="an API key of that deployment")
        parser.add_argument(
            "--bare-threads",
            type=int,
            help="the bare engine's cpu_threads (default: a worker's; 0: faster-whisper's own)",
        )
        parser.add_argument(
            "--preload-all",
            action="store_true",
            help="the started platform's workers load every model, not only the benchmarked one",
        )
        parser.add_argument("--json", type=Path, help="also write the figures to this file")

    def handle(self, *args, **options) -> None:
        benchmark_options = BenchmarkOptions(
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
        )

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
