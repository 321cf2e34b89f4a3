"""The test settings' var directory (SQLite file, media, static files) is the run's own and
goes with the process that made it: a process started by a test shares it and leaves it."""

import os
import subprocess
import sys
from pathlib import Path

from tools.live_platform import BASE_DIR

SHOW_VAR_DIR = (
    "import django; django.setup(); from django.conf import settings; "
    "settings.MEDIA_ROOT.mkdir(parents=True, exist_ok=True); print(settings.VAR_DIR)"
)


def run_settings(env: dict[str, str]) -> Path:
    done = subprocess.run(
        [sys.executable, "-c", SHOW_VAR_DIR],
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return Path(done.stdout.strip().splitlines()[-1])


def test_the_var_directory_goes_with_the_process_that_made_it():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PLATFORM_VAR_DIR", "TEST_VAR_DIR_RUNNER", "PYTEST_XDIST_WORKER"}
    }
    made = run_settings(env)
    assert made.name.startswith("whisper-platform-test-main-")
    assert not made.exists()


def test_a_process_started_by_a_test_leaves_the_run_s_var_directory_in_place():
    from django.conf import settings

    ours = Path(os.environ["PLATFORM_VAR_DIR"])
    assert ours == settings.VAR_DIR
    assert run_settings(dict(os.environ)) == ours
    assert ours.is_dir()
