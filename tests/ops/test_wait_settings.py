"""A client never waits for its job past the job timeout: SYNC_WAIT_TIMEOUT (a synchronous
request's wait, a realtime turn's) is at most JOB_TIMEOUT unless the operator sets it."""

import os
import subprocess
import sys

import pytest

from tools.live_platform import BASE_DIR

PRINT = (
    "import django; django.setup(); from django.conf import settings;"
    " print(settings.SYNC_WAIT_TIMEOUT)"
)


def _wait_setting(**env: str) -> float:
    clean = {k: v for k, v in os.environ.items() if k not in ("JOB_TIMEOUT", "SYNC_WAIT_TIMEOUT")}
    result = subprocess.run(
        [sys.executable, "-c", PRINT],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.base", **env},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(result.stdout.split()[-1])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 600.0),
        ({"JOB_TIMEOUT": "60"}, 60.0),
        ({"JOB_TIMEOUT": "60", "SYNC_WAIT_TIMEOUT": "700"}, 700.0),
    ],
)
def test_the_wait_is_bounded_by_the_job_timeout_unless_set(env, expected):
    assert _wait_setting(**env) == expected
