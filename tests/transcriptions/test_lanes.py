"""Room kept for requests with a client waiting (transcriptions/services/lanes.py), and the
turn a worker runs (running.turn_run): batch chunks never take every worker of a cluster, a
worker takes the next chunk itself when its own ends, and queued chunks that no turn reaches
get one."""

import os
import signal
import subprocess
import sys
import threading

import pytest

from tests.audio import JFK
from transcriptions import services, tasks
from transcriptions.models import Chunk, Job
from transcriptions.services import chunks as chunk_services
from transcriptions.services import lanes

pytestmark = pytest.mark.fake_engine


@pytest.fixture
def one_batch_place(settings):
    settings.Q_WORKERS = 1
    settings.INTERACTIVE_WORKERS = 1


def submit_async(api) -> Job:
    with JFK.open("rb") as f:
        response = api.client.post("/v1/audio/jobs", {"file": f, "model": "tiny.en"})
    assert response.status_code == 202, response.content
    return Job.objects.get(public_id=response.json()["id"])


def test_at_most_q_workers_places_for_batch_work(settings):
    settings.Q_WORKERS, settings.INTERACTIVE_WORKERS = 2, 1
    with lanes.batch_place() as first, lanes.batch_place() as second:
        with lanes.batch_place() as third:
            assert (first.taken, second.taken, third.taken) == (True, True, False)
        second.release()
        with lanes.batch_place() as again:
            assert again.taken, "a place given back is free"
    settings.INTERACTIVE_WORKERS = 0
    with lanes.batch_place() as a, lanes.batch_place() as b, lanes.batch_place() as c:
        assert a.taken and b.taken and c.taken, "no room kept: every worker takes batch work"


def test_a_killed_workers_place_is_free_again(one_batch_place):
    """The kernel drops the lock of a process that dies: no place is left taken by a worker
    killed mid-chunk."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
            str(lanes._place_path(0)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with lanes.batch_place() as place:
            assert not place.taken
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with lanes.batch_place() as place:
        assert place.taken


def test_a_full_cluster_takes_a_clients_chunk_and_leaves_the_batch(
    api_a, stalled_queue, one_batch_place
):
    batch = submit_async(api_a)
    client = submit_async(api_a)
    # As a synchronous request's chunk is (it came later: the policy alone would run the batch).
    Chunk.objects.filter(job=client).update(interactive=True)
    with lanes.batch_place() as busy:  # another worker of this cluster decodes a batch chunk
        assert busy.taken
        assert tasks.run_chunk() == f"{client.public_id}#0"
    assert Job.objects.get(pk=client.pk).status == Job.Status.SUCCEEDED
    assert Job.objects.get(pk=batch.pk).status == Job.Status.QUEUED
    assert tasks.run_chunk() == f"{batch.public_id}#0", "the place is free: batch work goes on"
    assert Job.objects.get(pk=batch.pk).status == Job.Status.SUCCEEDED


# The real engine: the turn's deadline (a third of 0.3 s) must pass while a chunk decodes.
@pytest.mark.inference
@pytest.mark.backend
def test_a_worker_takes_the_next_chunk_itself_until_its_turn_runs_out(
    api_a, stalled_queue, settings, monkeypatch
):
    first, second, third = (submit_async(api_a) for _ in range(3))
    assert tasks.run_chunk() == f"{first.public_id}#0, {second.public_id}#0, {third.public_id}#0"
    assert Job.objects.filter(status=Job.Status.SUCCEEDED).count() == 3

    # A turn stops taking chunks at a third of JOB_TIMEOUT and gives what is left a new turn.
    turns = []
    monkeypatch.setattr(chunk_services, "turns_enqueue", turns.append)
    settings.JOB_TIMEOUT = 0.3
    late, later = submit_async(api_a), submit_async(api_a)
    turns.clear()
    assert tasks.run_chunk() == f"{late.public_id}#0"
    assert turns == [[f"{later.public_id}#0"]]
    assert Job.objects.get(pk=later.pk).status == Job.Status.QUEUED


def test_queued_chunks_with_nothing_running_get_turns(api_a, stalled_queue, monkeypatch):
    turns = []
    monkeypatch.setattr(chunk_services, "turns_enqueue", turns.append)
    job = submit_async(api_a)
    turns.clear()
    chunk = job.chunks.get()
    Chunk.objects.filter(pk=chunk.pk).update(status=Chunk.Status.RUNNING, worker="w:1")
    assert services.turns_resupply() == 0, "a worker is busy: it takes the next chunk itself"
    assert turns == []
    Chunk.objects.filter(pk=chunk.pk).update(status=Chunk.Status.QUEUED, worker="")
    assert tasks.recover_orphaned_jobs()["turns_resupplied"] == 1
    assert turns == [[f"{job.public_id}#0"]]


# --- Batch work at a lower CPU priority ---------------------------------------------------------


def nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def test_batch_priority_lowers_every_thread_and_restores_it(settings):
    settings.BATCH_NICE = 10
    started, stop = threading.Event(), threading.Event()

    def decoder_thread() -> None:  # as CTranslate2's own threads are
        started.set()
        stop.wait(30)

    thread = threading.Thread(target=decoder_thread)
    thread.start()
    started.wait(5)
    try:
        me, other = threading.get_native_id(), thread.native_id
        base = nice_of(me)  # 0, unless the tests themselves run niced
        assert nice_of(other) == base
        with lanes.batch_priority():
            assert (nice_of(me), nice_of(other)) == (max(base, 10),) * 2
        assert (nice_of(me), nice_of(other)) == (base, base)
    finally:
        stop.set()
        thread.join()


def niceness_while(run) -> int:
    """The highest nice value of this thread seen while `run()` runs (sampled every 5 ms)."""
    me, done = threading.get_native_id(), threading.Event()
    seen = [nice_of(me)]

    def watch() -> None:
        while not done.wait(0.005):
            seen.append(nice_of(me))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run()
    finally:
        done.set()
        watcher.join()
    return max(seen)


def test_a_batch_chunk_is_decoded_at_batch_nice_and_a_clients_chunk_is_not(
    api_a, stalled_queue, settings
):
    settings.BATCH_NICE = 10
    base = nice_of(threading.get_native_id())
    batch = submit_async(api_a)
    assert niceness_while(tasks.run_chunk) == max(base, 10)
    assert Job.objects.get(pk=batch.pk).status == Job.Status.SUCCEEDED
    assert nice_of(threading.get_native_id()) == base, "set back after the chunk"
    client = submit_async(api_a)
    Chunk.objects.filter(job=client).update(interactive=True)
    assert niceness_while(tasks.run_chunk) == base
    assert Job.objects.get(pk=client.pk).status == Job.Status.SUCCEEDED
