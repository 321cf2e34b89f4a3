"""Helpers for the quota, usage and billing tests: requests through the test client with real
inference, and the tenant's counters as the database holds them."""

import io
from typing import NamedTuple

import pytest
from django.utils import timezone

from accounts.models import Tenant
from billing.models import ActiveJobs, QuotaPeriod
from billing.periods import month_start
from billing.services import plan_override_set
from tests.audio import JFK

# jfk.flac: 11.0 s, billed 11 s.
JFK_SECONDS = 11


def transcribe(api, *, path="/v1/audio/transcriptions", audio=JFK, headers=None, **fields):
    """POST an audio request as the openai SDK does (multipart), extra headers as HTTP_*."""
    extra = {
        f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()
    }
    if isinstance(audio, bytes):
        fh = io.BytesIO(audio)
        fh.name = fields.pop("filename", "audio.wav")
        return api.client.post(
            path, {"file": fh, "model": "tiny.en", **fields}, format="multipart", **extra
        )
    with open(audio, "rb") as fh:
        return api.client.post(
            path, {"file": fh, "model": "tiny.en", **fields}, format="multipart", **extra
        )


class Counters(NamedTuple):
    reserved: int
    used: int
    active_jobs: int


def counters(tenant: Tenant) -> Counters:
    """This month's quota row and the concurrency counter, read from the database."""
    row = QuotaPeriod.objects.filter(tenant=tenant, period=month_start(timezone.now())).first()
    active = ActiveJobs.objects.filter(tenant=tenant).first()
    return Counters(
        reserved=row.reserved_seconds if row else 0,
        used=row.used_seconds if row else 0,
        active_jobs=active.count if active else 0,
    )


@pytest.fixture
def set_limits():
    """set_limits(tenant, monthly_audio_seconds=..., ...): the tenant's plan overrides."""

    def apply(tenant: Tenant, **values):
        return plan_override_set(tenant=tenant, **values)

    return apply
