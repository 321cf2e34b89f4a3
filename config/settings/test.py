"""Test settings: the embedded setup, fast hashing, tasks run inline unless a test is about the queue."""

import os
import tempfile
import uuid

os.environ.setdefault("PLATFORM_VAR_DIR", tempfile.mkdtemp(prefix="whisper-platform-test-"))

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, Q_CLUSTER, STATIC_ROOT

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Model files are reassembled once per machine, not once per test run.
WHISPER_CACHE_DIR = BASE_DIR / "var" / "models"
# The test client runs the task in-process; e2e tests start real qcluster processes instead.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Test runs may share one PostgreSQL server (CI, engineers side by side): each run
    # creates and drops a test database of its own.
    DATABASES["default"]["TEST"] = {"NAME": f"test_whisper_{uuid.uuid4().hex[:12]}"}
    # The same backend, with the flush after each `transaction=True` test by DELETE.
    DATABASES["default"]["ENGINE"] = "config.test_postgresql"
