"""Test settings: the embedded setup, fast hashing, tasks run inline unless a test is about the queue."""

import atexit
import os
import shutil
import tempfile
import uuid

# The run's own var directory, shared with the processes its tests start (they inherit it).
# Under pytest-xdist each worker process gets one of its own instead of the controller's: two
# workers must not share a SQLite file, media or lock files.
_runner = os.environ.get("PYTEST_XDIST_WORKER", "main")
if (
    "PLATFORM_VAR_DIR" not in os.environ
    or os.environ.get("TEST_VAR_DIR_RUNNER", _runner) != _runner
):
    os.environ["PLATFORM_VAR_DIR"] = tempfile.mkdtemp(prefix=f"whisper-platform-test-{_runner}-")
    os.environ["TEST_VAR_DIR_RUNNER"] = _runner
    # Gone with the process that made it (its test database already dropped): every run left
    # its media and static files in the temporary directory.
    atexit.register(shutil.rmtree, os.environ["PLATFORM_VAR_DIR"], ignore_errors=True)
if _runner != "main" and not os.environ.get("Q_SITE_NAME", "").endswith(f"-{_runner}"):
    # Nor a queue or task-signing name on a shared Redis.
    os.environ["Q_SITE_NAME"] = f"{os.environ.get('Q_SITE_NAME') or 'transcribe'}-{_runner}"

from .base import *  # noqa: E402, F403
from .base import BASE_DIR, CACHES, DATABASES, Q_CLUSTER, STATIC_ROOT, VAR_DIR  # noqa: E402

if _runner != "main" and "KEY_PREFIX" in CACHES["default"]:
    # Nor cache keys (rate-limit counters, leases) on a shared Redis: tenants' ids repeat.
    CACHES["default"]["KEY_PREFIX"] += f"-{_runner}"

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

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file in the run's var directory, as the product runs (WAL, the busy timeout), not
    # Django's default shared-cache in-memory database: there a read in one thread fails
    # another thread's write at once ("database table is locked"), which no deployment does.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Test runs may share one PostgreSQL server (CI, engineers side by side): each run
    # creates and drops a test database of its own.
    DATABASES["default"]["TEST"] = {"NAME": f"test_whisper_{uuid.uuid4().hex[:12]}"}
    # The same backend, with the flush after each `transaction=True` test by DELETE.
    DATABASES["default"]["ENGINE"] = "config.test_postgresql"
