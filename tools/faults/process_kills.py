"""Issue 29's faults 3 and 4: the platform's own processes SIGKILLed under load.

    web processes killed    gunicorn's two web processes, one after the other (its master
    in turn                 starts another each time), while a stream and a realtime session
                            are in flight: the uploads, streams and sessions they held are cut
    qcluster worker killed  the worker process decoding a batch chunk (its sentinel starts
    mid-batch               another): the chunk is decoded again by the dead-worker recovery
    every worker killed     every process under both sites' and the callbacks' sentinels at once
                            (the decoders, their monitors and pushers), as the OOM killer would

The qcluster's own process and its sentinel are left alone: `serve` stops the whole platform
when one of its children exits (production's systemd units restart it instead), so killing
them here would measure `serve`, not the platform.

Processes are found through /proc within the platform's session (tools.live_platform): serve's
children are gunicorn's master and the qclusters; below those, web processes and sentinels;
below the sentinels, django-q2's workers."""

import contextlib
import os
import signal
import time
from pathlib import Path

from tools.live_platform import LivePlatform

from .scenarios import Fault
from .topology import Topology

# Longest wait for the moment to strike (the load sends each kind every few seconds).
AIM_WAIT = 30.0


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _children(platform: LivePlatform, parents: set[int]) -> set[int]:
    return {pid for pid in platform.pids() if _parent(pid) in parents}


def web_processes(platform: LivePlatform) -> list[int]:
    """gunicorn's web processes (the master's children)."""
    masters = {
        pid for pid in _children(platform, {platform.process.pid}) if "gunicorn" in _command(pid)
    }
    return sorted(_children(platform, masters))


def cluster_workers(platform: LivePlatform) -> list[int]:
    """Every process below a sentinel: django-q2's workers, monitor and pusher, of every
    cluster `serve` started (the callbacks' included)."""
    clusters = {
        pid for pid in _children(platform, {platform.process.pid}) if "qcluster" in _command(pid)
    }
    sentinels = _children(platform, clusters)
    return sorted(_children(platform, sentinels))


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _running_chunks(platform: LivePlatform) -> list[tuple[int, bool]]:
    """(worker pid, interactive) of the chunks being decoded, batch chunks first."""
    rows = platform.query(
        "SELECT worker, interactive FROM transcriptions_chunk WHERE status = 'running'"
        " ORDER BY interactive"
    )
    return [(int(w.rsplit(":", 1)[1]), inter) for w, inter in rows if ":" in w]


def _wait(predicate, *, within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


def batch_chunk_aim(topology: Topology) -> None:
    """Until a batch (async) chunk is being decoded (or AIM_WAIT: then any chunk will do)."""
    _wait(lambda: any(not i for _, i in _running_chunks(topology.platform)), within=AIM_WAIT)


def batch_worker_kill_now(topology: Topology) -> None:
    running = _running_chunks(topology.platform)
    if not running:  # ended between the aim and now: the next one
        _wait(lambda: _running_chunks(topology.platform), within=AIM_WAIT)
        running = _running_chunks(topology.platform)
    _kill([pid for pid, _ in running[:1]])


def in_flight_aim(topology: Topology) -> None:
    """Until a streaming job runs and a realtime session is open (or AIM_WAIT)."""

    def both() -> bool:
        [(streams, sessions)] = topology.platform.query(
            "SELECT (SELECT count(*) FROM transcriptions_job WHERE stream"
            "  AND status IN ('queued', 'running')),"
            " (SELECT count(*) FROM transcriptions_livesession)"
        )
        return streams > 0 and sessions > 0

    _wait(both, within=AIM_WAIT)


def web_processes_kill_in_turn(topology: Topology) -> None:
    """Each web process, in turn: the second once the master has started the first one's
    replacement, so that one process serves at every moment and every connection open at the
    first kill and still open at the second is cut, whichever process held it."""
    platform = topology.platform
    first, *others = web_processes(platform)
    _kill([first])
    _wait(lambda: len(set(web_processes(platform)) - {first}) > len(others), within=AIM_WAIT)
    _kill(others)


def web_process_kill() -> Fault:
    return Fault(
        "web processes killed in turn",
        inject=web_processes_kill_in_turn,
        heal=lambda t: None,
        hold=0,
        aim=in_flight_aim,
    )


# What only the workers answer: after they were killed, a probe's answer says nothing.
DECODED = ("sync", "stream", "realtime")


def batch_worker_kill() -> Fault:
    return Fault(
        "qcluster worker killed mid-batch",
        inject=batch_worker_kill_now,
        heal=lambda t: None,
        hold=0,
        aim=batch_chunk_aim,
        serves=DECODED,
    )


def every_worker_kill() -> Fault:
    return Fault(
        "every worker killed",
        inject=lambda t: _kill(cluster_workers(t.platform)),
        heal=lambda t: None,
        hold=0,
        serves=DECODED,
    )


def process_kills() -> list[Fault]:
    return [web_process_kill(), batch_worker_kill(), every_worker_kill()]
