"""One pool of threads per process (ops.threads), sized by THREAD_POOL_WORKERS, of which the
work that may wait long on others (name lookups, usage-log writes, realtime work) has capped
shares: they cannot take the threads the waiting requests' re-reads need."""

import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from ops import threads
from transcriptions.services import outbound

TIMEOUT = 10


@pytest.fixture
def fresh_pool(monkeypatch):
    """A pool made from the settings for this test, the process's own put back after it."""
    monkeypatch.setattr(threads, "_pool", None)
    yield
    if threads._pool is not None:
        threads._pool.shutdown(wait=True)


def test_the_pool_has_the_threads_the_setting_says(settings, fresh_pool):
    settings.THREAD_POOL_WORKERS = threads.LEAST_WORKERS + 4
    size = settings.THREAD_POOL_WORKERS
    together = threading.Barrier(size, timeout=TIMEOUT)  # passes only with `size` threads at once
    for waited in [threads.pool().submit(together.wait) for _ in range(size)]:
        waited.result(timeout=TIMEOUT)
    # One more than the setting never runs beside them.
    over = threading.Barrier(size + 1, timeout=1)
    waits = [threads.pool().submit(over.wait) for _ in range(size + 1)]
    with pytest.raises(threading.BrokenBarrierError):
        waits[0].result(timeout=TIMEOUT)


def test_the_waits_reads_have_the_rest_of_the_pool(settings, fresh_pool):
    settings.THREAD_POOL_WORKERS = threads.LEAST_WORKERS + 4
    rest = settings.THREAD_POOL_WORKERS - threads.CAPPED_THREADS
    together = threading.Barrier(rest, timeout=TIMEOUT)
    for waited in [threads.reads_share.submit(together.wait) for _ in range(rest)]:
        waited.result(timeout=TIMEOUT)
    over = threading.Barrier(rest + 1, timeout=1)
    waits = [threads.reads_share.submit(over.wait) for _ in range(rest + 1)]
    with pytest.raises(threading.BrokenBarrierError):
        waits[0].result(timeout=TIMEOUT)


def test_a_pool_smaller_than_its_shares_is_refused(settings, fresh_pool):
    settings.THREAD_POOL_WORKERS = threads.LEAST_WORKERS - 1
    with pytest.raises(ImproperlyConfigured, match="THREAD_POOL_WORKERS"):
        threads.pool()


def test_slow_lookups_never_take_the_threads_of_the_waits_reads(settings, fresh_pool):
    settings.THREAD_POOL_WORKERS = threads.LEAST_WORKERS
    name_server = threading.Event()  # a tenant's name server that does not answer
    running = []

    def lookup():
        running.append(1)
        name_server.wait(TIMEOUT)

    lookups = [outbound._resolvers.submit(lookup) for _ in range(2 * threads.LEAST_WORKERS)]
    try:
        # A waiting request's re-read of its job still gets a thread at once.
        assert threads.reads_share.submit(lambda: "read").result(timeout=TIMEOUT) == "read"
        assert len(running) == threads.RESOLVER_THREADS
    finally:
        name_server.set()
    for done in lookups:
        done.result(timeout=TIMEOUT)
    assert len(running) == 2 * threads.LEAST_WORKERS  # the queued ones ran, a share at a time
