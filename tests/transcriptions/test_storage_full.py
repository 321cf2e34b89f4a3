"""The audio disk full (issue 29's fault 5; tools/faults/environment.py runs it on a tmpfs):
an upload that finds no room is refused with an OpenAI envelope a client retries (507 with
Retry-After), leaves no half-written file and no reservation, and the next one after the disk
is freed is accepted."""

import errno
import os

import numpy as np
import pytest

from billing.models import UsageRecord
from tests.billing.conftest import counters
from tests.conftest import assert_error
from transcriptions.models import Job
from transcriptions.services.chunks import samples_store

from .test_jobs_api import submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


class _FullDisk:
    """A file that takes `room` bytes, then fails as a full disk does (ENOSPC)."""

    def __init__(self, inner, room: int) -> None:
        self.inner, self.room = inner, room

    def write(self, data) -> int:
        if len(data) > self.room:
            self.inner.write(data[: self.room])
            self.inner.flush()
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.inner.write(data)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def disk(monkeypatch):
    """fill(): FileSystemStorage's writes (os.fdopen) find 1000 bytes of room; free(): all."""
    real = os.fdopen

    class Disk:
        def fill(self) -> None:
            monkeypatch.setattr(os, "fdopen", lambda fd, mode="r": _FullDisk(real(fd, mode), 1000))

        def free(self) -> None:
            monkeypatch.setattr(os, "fdopen", real)

    return Disk()


def stored_files(media) -> list[str]:
    return [str(path) for path in media.rglob("*") if path.is_file()]


def test_an_upload_on_a_full_disk_is_507_to_retry_and_leaves_nothing(api_a, media, disk):
    disk.fill()
    response = submit(api_a)
    assert_error(response, 507, type="server_error", code="insufficient_storage")
    assert response["Retry-After"] == "30"
    assert stored_files(media) == []  # the first 1000 bytes written are gone too
    assert not Job.objects.exists()
    assert counters(api_a.tenant) == (0, 0, 0)
    assert UsageRecord.objects.get().status_code == 507
    disk.free()  # the operator frees the disk
    assert submit(api_a).status_code == 202


def test_a_chunk_that_finds_no_room_leaves_no_samples(api_a, media, disk):
    from transcriptions.errors import StorageFull

    job = Job.objects.get(public_id=submit(api_a).json()["id"])  # run and ended: nothing kept
    disk.fill()
    with pytest.raises(StorageFull):
        samples_store(job=job, index=1, samples=np.zeros(16000, dtype=np.float32))
    assert stored_files(media) == []
