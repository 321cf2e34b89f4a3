"""Fixtures of the /v1/audio form tests: a request stopped once it is validated, and the check
that a refused request left no job."""

import pytest

from api.errors import ApiError
from transcriptions.models import Job

CAPTURED = 418  # the status of a request stopped once validated (see `captured` below)


@pytest.fixture
def captured(monkeypatch) -> list[dict]:
    """The validated data of each request, which is then stopped before anything is stored."""
    seen: list[dict] = []

    def capture(*, task, data, is_async=False, callback_addresses=None):
        seen.append(dict(data))
        raise ApiError("captured", status_code=CAPTURED, code="captured")

    monkeypatch.setattr("api.views.audio.audio_request_build", capture)  # jobs' too
    return seen


@pytest.fixture
def nothing_stored():
    yield
    assert Job.objects.count() == 0, "a refused request must not leave a job"
