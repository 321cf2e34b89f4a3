"""What a worker does at start, in a fresh process as a worker is: load each model, run it once
on real speech, then exempt everything loaded from the garbage collector."""

import os
import subprocess
import sys

from config.settings.base import BASE_DIR

SCRIPT = """
import gc, logging
import django
django.setup()
logging.basicConfig(level=logging.INFO, format="%(message)s")
import speech as engine
engine.preload(["tiny.en"])
print("loaded", engine.loaded_models(), "frozen", gc.get_freeze_count())
engine.preload(["tiny.en"])
print("frozen again", gc.get_freeze_count())
"""


def test_preload_loads_warms_up_and_freezes_once(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "PLATFORM_VAR_DIR": str(tmp_path),
        "WHISPER_CACHE_DIR": str(BASE_DIR / "var" / "models"),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "warmed up model tiny.en in " in done.stderr
    lines = done.stdout.splitlines()
    loaded, frozen = lines[0].rsplit(" frozen ", 1)
    assert loaded == "loaded ['tiny.en']"
    assert int(frozen) > 10_000, "Django and the model's Python objects are frozen"
    # A second preload (nothing new to load) freezes nothing more.
    assert lines[1] == f"frozen again {frozen}"
