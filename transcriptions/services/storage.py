"""Writing a file to the media storage, all or nothing.

Django's FileSystemStorage leaves what it wrote so far when a write fails (a full disk, a
quota): a half-written file no row names, which nothing ever deletes. A full disk is the
operator's to fix and passes: the request is refused with StorageFull, which clients are told
to retry, rather than a 500 (issue 29)."""

import contextlib
import errno
import logging

from django.core.files import File
from django.core.files.storage import Storage
from django.db.models.fields.files import FieldFile

from ..errors import StorageFull

logger = logging.getLogger(__name__)

# errno values that mean "no room": the disk full, the user's quota used up.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT}
# What a client is told to wait: freeing a disk takes a person or a clean-up run, not seconds.
STORAGE_FULL_RETRY_AFTER = 30
MSG_STORAGE_FULL = (
    "The server has no room to store this upload right now. Please retry after the time in "
    "Retry-After."
)


def storage_save(storage: Storage, name: str, content: File) -> str:
    """storage.save(name, content); if the write fails, whatever it wrote is deleted, and a
    full disk is raised as StorageFull."""
    # The name the storage will write to, known before it writes (save() keeps a free name).
    name = storage.get_available_name(name)
    try:
        return storage.save(name, content)
    except OSError as exc:
        with contextlib.suppress(OSError, NotImplementedError):
            storage.delete(name)
        if exc.errno in _NO_ROOM:
            logger.error("media storage full, %s refused: %s", name, exc)
            raise StorageFull(MSG_STORAGE_FULL, retry_after=STORAGE_FULL_RETRY_AFTER) from exc
        raise


def file_field_save(file: FieldFile, name: str, content: File) -> None:
    """FieldFile.save(name, content, save=False), through storage_save: the stored name is
    assigned to the model's field, which makes it a file already saved."""
    stored = storage_save(file.storage, file.field.generate_filename(file.instance, name), content)
    setattr(file.instance, file.field.attname, stored)
