"""`python -m tools.faults.soak [--minutes 30]`: the production topology (topology.py) under
the fault harness's steady load (load.py) for a long while, nothing injected, sampled every
`--every` seconds: what must stay flat once warmed up (issue 29).

    web MB, workers MB   resident memory of the web processes (gunicorn and its workers) and
                         of the qcluster processes (workers, monitors, guards), summed
    fds                  open file descriptors of every platform process
    tmp files            files in the platform's temp folder (its TMPDIR: uploads spooled to
                         disk, lane files)
    stray audio          files in the media folder beyond the jobs' kept audio (each job keeps
                         its upload for its plan's retention: that growth is the product's)
    task rows            django-q2's task history (pruned to TASK_HISTORY_KEEP, which the soak
                         sets low enough to be reached)
    redis keys           the broker's and the cache's keys
    ok, p50/p99 s        good answers in the interval, and their latency

It ends with a verdict: memory within +5 % of the first sample after warm-up, the counts not
growing (their last sample against the largest of the first third after warm-up, with a small
allowance), p99 within twice the first interval's, and the invariants (invariants.py) once the
load has stopped. Exits 1 if one fails."""

import argparse
import contextlib
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from .invariants import invariants_check
from .load import PACE, Load
from .topology import Topology, topology_start

MEMORY_GROWTH = 0.05
# Counts may move by this much from one moment to the next (a request in flight holds a file
# and a descriptor, the cache keeps per-window keys): growth means past it.
COUNT_ALLOWANCE = {
    "fds": 20,
    "tmp_files": 10,
    "stray_audio": 10,
    "task_rows": 20,
    "redis_keys": 30,
}
TASK_HISTORY_KEEP = 200


@dataclass
class Sample:
    at: float  # seconds from the start of the load
    web_mb: float
    workers_mb: float
    fds: int
    tmp_files: int
    stray_audio: int
    task_rows: int
    redis_keys: int
    ok: int
    p50: float
    p99: float
    cpu_share: float  # of the machine's cores, over the interval


def _rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _is_web(pid: int) -> bool:
    with contextlib.suppress(OSError):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        return b"gunicorn" in command or b"uvicorn" in command
    return False


def _fds(pid: int) -> int:
    with contextlib.suppress(OSError):
        return len(os.listdir(f"/proc/{pid}/fd"))
    return 0


def _files(*folders: Path) -> int:
    return sum(1 for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file())


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def sample(topology: Topology, load: Load, *, since: float, started: float, cpu: float) -> Sample:
    platform = topology.platform
    pids = platform.pids()
    web = [pid for pid in pids if _is_web(pid)]
    workers = [pid for pid in pids if pid not in web]
    answers = [a for a in load.snapshot() if a.ended >= since and a.outcome == "ok"]
    latencies = [a.ended - a.started for a in answers if a.kind != "probe"]
    now = time.monotonic()
    return Sample(
        at=now - started,
        web_mb=sum(_rss_mb(pid) for pid in web),
        workers_mb=sum(_rss_mb(pid) for pid in workers),
        fds=sum(_fds(pid) for pid in pids),
        tmp_files=_files(platform.var_dir / "tmp"),
        stray_audio=_files(platform.var_dir / "media")
        - int(platform.query("SELECT count(*) FROM transcriptions_job WHERE audio <> ''")[0][0]),
        task_rows=int(platform.query("SELECT count(*) FROM django_q_task")[0][0]),
        redis_keys=int(redis.Redis.from_url(topology.redis.url).dbsize()),
        ok=len(answers),
        p50=statistics.median(latencies) if latencies else 0.0,
        p99=_percentile(latencies, 0.99),
        cpu_share=(platform.cpu_seconds() - cpu) / max(1e-9, now - since) / (os.cpu_count() or 1),
    )


def verdict(samples: list[Sample], warm_up: float) -> list[str]:
    """What grew, in words; empty when the soak held."""
    settled = [s for s in samples if s.at >= warm_up]
    if len(settled) < 3:
        return [f"too short: {len(settled)} samples after the warm-up"]
    first, last = settled[0], settled[-1]
    early = settled[: max(1, len(settled) // 3)]
    problems = []
    for name in ("web_mb", "workers_mb"):
        base, end = getattr(first, name), getattr(last, name)
        if end > base * (1 + MEMORY_GROWTH):
            problems.append(f"{name} grew {base:.0f} -> {end:.0f} MB ({end / base - 1:+.1%})")
    for name, allowance in COUNT_ALLOWANCE.items():
        base, end = max(getattr(s, name) for s in early), getattr(last, name)
        if end > base + allowance:
            problems.append(f"{name} grew {base} -> {end}")
    if first.p99 and last.p99 > 2 * first.p99:
        problems.append(f"p99 {first.p99:.2f} -> {last.p99:.2f} s")
    return problems


def _row(s: Sample) -> str:
    return (
        f"{s.at / 60:6.1f} {s.web_mb:8.0f} {s.workers_mb:10.0f} {s.fds:5d} {s.tmp_files:9d}"
        f" {s.stray_audio:11d} {s.task_rows:9d} {s.redis_keys:10d} {s.ok:4d} {s.p50:6.2f} {s.p99:6.2f}"
        f" {s.cpu_share:6.0%}"
    )


HEADER = " min     web MB  workers MB   fds tmp files stray audio task rows redis keys   ok  p50 s  p99 s    cpu"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.faults.soak")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--warm-up", type=float, default=5.0, help="minutes not judged")
    parser.add_argument("--job-timeout", type=int, default=60)
    parser.add_argument(
        "--pace",
        type=float,
        default=PACE,
        help=f"seconds between a client's requests at most (default {PACE}); the cpu column "
        "shows the share of the machine it takes: aim at about half",
    )
    args = parser.parse_args()
    topology = topology_start(
        job_timeout=args.job_timeout, env={"TASK_HISTORY_KEEP": str(TASK_HISTORY_KEEP)}
    )
    load = Load(
        api_base=topology.platform.api_base,
        keys=topology.keys,
        timeout=args.job_timeout + 30,
        pace=args.pace,
    )
    samples: list[Sample] = []
    try:
        started = since = time.monotonic()
        cpu = topology.platform.cpu_seconds()
        load.start()
        print(HEADER, flush=True)
        while time.monotonic() - started < args.minutes * 60:
            time.sleep(args.every)
            samples.append(sample(topology, load, since=since, started=started, cpu=cpu))
            since, cpu = time.monotonic(), topology.platform.cpu_seconds()
            print(_row(samples[-1]), flush=True)
        load.stop()
        invariants = invariants_check(
            topology.platform,
            accepted=[a.job_id for a in load.snapshot()],
            settle=args.job_timeout + 60,
        )
    finally:
        load.stop()
        topology.stop()
    answers = load.snapshot()
    errors = sorted({a.outcome for a in answers if a.outcome != "ok"})
    print(f"answers: {len(answers)}, not ok: {sum(a.outcome != 'ok' for a in answers)} {errors}")
    problems = verdict(samples, args.warm_up * 60) + [
        f"after the load: {broken}" for broken in invariants.broken()
    ]
    for problem in problems:
        print("grew:" if "grew" in problem else "broken:", problem)
    print("soak held" if not problems else "soak failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
