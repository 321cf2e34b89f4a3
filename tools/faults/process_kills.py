"""Issue 29's faults 3 and 4: the platform's own processes SIGKILLed under load.

    web processes killed    gunicorn's two web processes, one after the other (its master
    in turn                 starts another each time), while a stream and a realtime session
                            are in flight: the uploads, streams and sessions they held are cut
    qcluster worker killed  the worker process decoding a batch chunk (its sentinel starts
    mid-batch               another): the chunk is decoded again by the dead-worker recovery
    every worker killed     every process under both sites' and the callbacks' sentinels at once
                            (the decoders, their monitors and pushers), as the OOM killer would
    qcluster killed         the qcluster process (`serve`'s child) whose worker decodes a batch
    mid-batch               chunk: `serve` ends what is left of its group (the sentinel, the
                            workers) and starts it again, as a systemd unit's restart does
    sentinel killed         the sentinel above that worker: the qcluster process ends with it
    mid-batch               (it waits on nothing else), and the same follows
    every qcluster killed   every process of every qcluster at once (their own, sentinels,
                            workers), as `pkill -9 -f qcluster` would: `serve` starts them all

Processes are found through /proc within the platform's session (tools.live_platform): serve's
children are gunicorn's master and the qclusters; below those, web processes and sentinels;
below the sentinels, django-q2's workers."""

import contextlib
import os
import signal
import time
from pathlib import Path

from tools.live_platform import LivePlatform, parent_pid

from .scenarios import Fault
from .topology import Topology

# Longest wait for the moment to strike (the load sends each kind every few seconds).
AIM_WAIT = 30.0


def web_processes(platform: LivePlatform) -> list[int]:
    """gunicorn's web processes (the master's children)."""
    masters = platform.children({platform.process.pid}, named="gunicorn")
    return sorted(platform.children(masters))


def _sentinels(platform: LivePlatform) -> set[int]:
    clusters = platform.children({platform.process.pid}, named="qcluster")
    return platform.children(clusters)


def cluster_workers(platform: LivePlatform) -> list[int]:
    """Every process below a sentinel: django-q2's workers, monitor and pusher, of every
    cluster `serve` started (the callbacks' included)."""
    return sorted(platform.children(_sentinels(platform)))


def idle_workers_aim(topology: Topology) -> None:
    """Until each inference cluster has a worker waiting for a task (or AIM_WAIT): an idle
    worker waits in its queue's get(), which a kill must not wedge."""
    platform = topology.platform

    def idle_in_each() -> bool:
        inference = set(platform.worker_pids())
        busy = {pid for pid, _ in _running_chunks(platform)}
        pools = [platform.children({s}) & inference for s in _sentinels(platform)]
        return all(pool - busy for pool in pools if pool)

    _wait(idle_in_each, within=AIM_WAIT)


def _sockets(pid: int) -> set[str]:
    """The inodes of a process's sockets."""
    found = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    found.add(link[len("socket:[") : -1])
    return found


def serving(pid: int, port: int) -> bool:
    """Whether the process holds a connection a client made to `port` (it accepts)."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    established.add(fields[9])
    return bool(_sockets(pid) & established)


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


def _batch_worker(topology: Topology) -> list[int]:
    """The worker decoding a batch chunk (any chunk if none is), or none."""
    running = _running_chunks(topology.platform)
    if not running:  # ended between the aim and now: the next one
        _wait(lambda: _running_chunks(topology.platform), within=AIM_WAIT)
        running = _running_chunks(topology.platform)
    return [pid for pid, _ in running[:1]]


def batch_worker_kill_now(topology: Topology) -> None:
    _kill(_batch_worker(topology))


def batch_sentinel_kill_now(topology: Topology, *, generations: int) -> None:
    """SIGKILL the batch worker's ancestor `generations` up: 1 its sentinel, 2 its qcluster."""
    pids = _batch_worker(topology)
    for _ in range(generations):
        pids = [parent_pid(pid) for pid in pids if parent_pid(pid) > 1]
    _kill(pids)


def in_flight_aim(topology: Topology) -> None:
    """Until a streaming job runs and a realtime session is open (or AIM_WAIT)."""

    def both() -> bool:
        [(streams, sessions)] = topology.platform.query(
            "SELECT (SELECT count(*) FROM transcriptions_job WHERE stream AND status ="
            "  'running' AND started_at > now() - interval '2 seconds'),"
            " (SELECT count(*) FROM transcriptions_livesession)"
        )
        return streams > 0 and sessions > 0

    _wait(both, within=AIM_WAIT)


def web_processes_kill_in_turn(topology: Topology) -> None:
    """Each web process, in turn: the second once the first one's replacement (the master
    starts it) serves, so that one process serves at every moment and every connection open
    at the first kill and still open at the second is cut, whichever process held it."""
    platform = topology.platform
    first, *others = web_processes(platform)
    _kill([first])

    def replaced() -> bool:
        new = set(web_processes(platform)) - {first, *others}
        return any(serving(pid, platform.port) for pid in new)

    _wait(replaced, within=AIM_WAIT)
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


def _decoder_kill(name: str, inject, aim=batch_chunk_aim) -> Fault:
    """A kill of what decodes: nothing to heal, the recovery counted on a decoded answer."""
    return Fault(name, inject=inject, heal=lambda t: None, hold=0, aim=aim, serves=DECODED)


def batch_worker_kill() -> Fault:
    return _decoder_kill("qcluster worker killed mid-batch", batch_worker_kill_now)


def cluster_kill(what: str, generations: int) -> Fault:
    return _decoder_kill(
        f"{what} killed mid-batch",
        lambda t: batch_sentinel_kill_now(t, generations=generations),
    )


def every_qcluster_kill_now(topology: Topology) -> None:
    platform = topology.platform
    clusters = platform.children({platform.process.pid}, named="qcluster")
    sentinels = platform.children(clusters)
    _kill(sorted(clusters | sentinels | platform.children(sentinels)))


def every_qcluster_kill() -> Fault:
    return _decoder_kill("every qcluster killed", every_qcluster_kill_now)


def every_worker_kill() -> Fault:
    return _decoder_kill(
        "every worker killed", lambda t: _kill(cluster_workers(t.platform)), aim=idle_workers_aim
    )


def process_kills() -> list[Fault]:
    return [
        web_process_kill(),
        batch_worker_kill(),
        every_worker_kill(),
        cluster_kill("qcluster", 2),
        cluster_kill("sentinel", 1),
        every_qcluster_kill(),
    ]
