"""Fixtures of the callback tests: a loopback receiver, development's private-target setting,
and a guard that fails a test on any connection that is not to loopback."""

import socket

import pytest

from tests.audio import JFK
from tests.receivers import Receiver, answer_ok


def submit(api, **fields):
    with JFK.open("rb") as f:
        return api.client.post(
            "/v1/audio/jobs", {"file": f, "model": "tiny.en", **fields}, format="multipart"
        )


@pytest.fixture
def loopback_only(monkeypatch):
    """Any connection this test makes to a non-loopback address fails the test."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            assert host in ("127.0.0.1", "::1", "localhost"), f"traffic to {host}"
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(answer=answer_ok) -> Receiver:
        made.append(Receiver(answer))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def private_allowed(settings):
    """Development's setting, so the loopback receivers can be reached."""
    settings.CALLBACK_ALLOW_PRIVATE = True
    return settings


def shown_attempts(api, job_id: str) -> list[dict]:
    return api.client.get(f"/v1/audio/jobs/{job_id}").json()["callback"]["attempts"]
