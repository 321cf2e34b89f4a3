"""The tests' SQLite database locks as the product's does (a file in WAL mode, writers waiting
out the busy timeout), not as Django's default shared-cache in-memory test database, where a
read under way in one thread fails another thread's write at once. A realtime session's turn,
cancelled as the client left, cancels its job in one pool thread while another still reads the
job: on the in-memory database that failed the interim text's billing once in CI."""

import threading

import pytest
from django.db import connection, connections

from transcriptions.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's locking")
def test_a_write_in_one_thread_is_not_failed_by_a_read_under_way_in_another(tenant_a):
    jobs = [
        Job.objects.create(tenant=tenant_a, requested_model="tiny.en", model="tiny.en")
        for _ in range(3)
    ]
    reading, written = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def read() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute(f"SELECT id FROM {Job._meta.db_table}")
                cursor.fetchone()  # the statement stays open: its read lock is held
                reading.set()
                written.wait(timeout=30)
        finally:
            connections.close_all()

    def write() -> None:
        try:
            reading.wait(timeout=30)
            Job.objects.filter(pk=jobs[0].pk).update(status=Job.Status.CANCELLED)
        except BaseException as exc:
            failures.append(exc)
        finally:
            written.set()
            connections.close_all()

    threads = [threading.Thread(target=read), threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert Job.objects.get(pk=jobs[0].pk).status == Job.Status.CANCELLED
