"""The engine is a library of its own: importing it, in a fresh process (this one has Django
loaded already), loads neither Django nor DRF nor any app of the platform."""

import json
import subprocess
import sys

from config.settings.base import BASE_DIR

SCRIPT = """
import json, sys
import speech, speech.audio, speech.chunking, speech.coverage, speech.diarization, speech.pcm
import speech.turns
print(json.dumps(sorted(sys.modules)))
"""
FORBIDDEN = ("django", "rest_framework", "config", "ops", "accounts", "billing", "transcriptions")
FORBIDDEN += ("api", "dashboard", "tools")


def test_importing_the_engine_loads_no_django_and_no_app():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert "speech" in loaded
    assert loaded.isdisjoint(FORBIDDEN), sorted(loaded & set(FORBIDDEN))
