"""`python -m tools.faults.web_memory [--rounds 4] [--requests 4000] [--upload]`: whether a web
process's memory grows with the requests it serves, and whether Python's objects are what grows.

The fault harness's topology (topology.py) with one web process; four clients send
authenticated `GET /v1/models` (the key's lookup, the rate limit, a usage row: the path every
request takes) as fast as it answers, or with `--upload` synchronous transcriptions of the
load's 4 s clip (the upload, the job, the wait for the worker). After a warm-up round and after each round, the web
process collects its garbage and counts its objects by type: a `sitecustomize` of this tool's,
put on the platform's PYTHONPATH, starts a thread in each forked gunicorn process that waits for
a trigger file (nothing in the product listens for this). It prints, per round: requests so far,
resident memory, threads, open descriptors, objects left after the collection; then the types
whose count grew most from the warm-up to the last round.

Objects flat while resident memory grows is the allocator's (freed memory kept in the process's
heap), not a leak of the platform's."""

import argparse
import json
import os
import shutil
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from .load import clip
from .topology import topology_start

# Run in every process of the platform (PYTHONPATH); acts in gunicorn's forked web processes
# only. The trigger file names the report to write.
SITECUSTOMIZE = textwrap.dedent(
    """
    import gc, json, os, threading, time
    from collections import Counter
    from pathlib import Path

    FOLDER = Path(os.environ["WEB_MEMORY_DIR"])

    def _watch():
        trigger = FOLDER / f"trigger-{os.getpid()}"
        while True:
            if trigger.exists():
                name = trigger.read_text().strip()
                collected = gc.collect()
                counts = Counter(
                    f"{getattr(type(o), '__module__', '?')}.{getattr(type(o), '__qualname__', '?')}"
                    for o in gc.get_objects()
                )
                report = {"collected": collected, "objects": sum(counts.values()), "types": counts}
                (FOLDER / f"report-{name}.json").write_text(json.dumps(report))
                trigger.unlink()
            time.sleep(0.2)

    def _in_child():
        try:
            command = Path("/proc/self/cmdline").read_bytes()
        except OSError:
            return
        if b"gunicorn" in command:
            threading.Thread(target=_watch, daemon=True).start()

    os.register_at_fork(after_in_child=_in_child)
    """
)
CLIENTS = 4


def _status(pid: int) -> tuple[float, int, int]:
    """(resident MB, threads, open descriptors) of a process."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return (
        int(fields["VmRSS"].split()[0]) / 1024,
        int(fields["Threads"]),
        len(os.listdir(f"/proc/{pid}/fd")),
    )


def _report(folder: Path, pid: int, name: str) -> dict:
    (folder / f"trigger-{pid}").write_text(name)
    deadline = time.monotonic() + 120
    while (folder / f"trigger-{pid}").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the web process never answered the trigger")
        time.sleep(0.1)
    return json.loads((folder / f"report-{name}.json").read_text())


def _requests(api: str, key: str, count: int, *, upload: bool) -> None:
    def client(n: int) -> None:
        with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {key}"}) as http:
            for _ in range(n):
                if upload:
                    files = {"file": ("clip.wav", clip(), "audio/wav")}
                    answer = http.post(
                        f"{api}/audio/transcriptions", files=files, data={"model": "tiny.en"}
                    )
                else:
                    answer = http.get(f"{api}/models")
                answer.raise_for_status()

    threads = [threading.Thread(target=client, args=(count // CLIENTS,)) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.faults.web_memory")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=4000, help="per round (and warm-up)")
    parser.add_argument("--upload", action="store_true", help="transcriptions, not GETs")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="web-memory-"))
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    topology = topology_start(
        env={"WEB_CONCURRENCY": "1", "PYTHONPATH": str(folder), "WEB_MEMORY_DIR": str(folder)}
    )
    try:
        platform = topology.platform
        # The topology's tenants may send 1200 a minute: more here, the web process is the
        # subject, not the rate limit.
        platform.manage_many(
            *[
                ["set_tenant_limits", slug, "--requests-per-minute=1000000"]
                for slug in topology.keys
            ]
        )
        masters = platform.children({platform.process.pid}, named="gunicorn")
        [web] = sorted(platform.children(masters))
        key = next(iter(topology.keys.values()))
        print("| requests | resident MB | threads | fds | objects after a collection |")
        print("|---|---|---|---|---|")
        reports = []
        for done in range(args.rounds + 1):
            _requests(platform.api_base, key, args.requests, upload=args.upload)
            reports.append(_report(folder, web, f"round-{done}"))
            rss, threads, fds = _status(web)
            sent = (done + 1) * args.requests
            print(f"| {sent} | {rss:.1f} | {threads} | {fds} | {reports[-1]['objects']} |")
        first, last = Counter(reports[0]["types"]), Counter(reports[-1]["types"])
        grown = sorted(((last[k] - first[k], k) for k in first | last), reverse=True)[:10]
        print("\nGrown most since the warm-up:", *(f"{n:+d} {k}" for n, k in grown), sep="\n  ")
    finally:
        topology.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
