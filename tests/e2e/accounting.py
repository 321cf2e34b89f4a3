"""Tenants with their own limits on the shared live platform, their usage rows, and the long
async job several modules submit."""

import time
import uuid
from typing import NamedTuple

import httpx

from tests.audio import long_speech_flac
from tests.platforms import LivePlatform


class Customer(NamedTuple):
    slug: str
    key: str


def tenant_with_limits(platform: LivePlatform, name: str, **limits: int) -> Customer:
    """A new tenant (unique slug) with plan overrides set by the operator command."""
    slug = f"{name}-{uuid.uuid4().hex[:6]}"
    commands = [["create_tenant", slug], ["create_api_key", slug, "--name", name]]
    if limits:
        options = [f"--{field.replace('_', '-')}={value}" for field, value in limits.items()]
        commands.append(["set_tenant_limits", slug, *options])
    return Customer(slug, platform.manage_many(*commands)[1])


def usage_rows(platform: LivePlatform, key: str, *, count: int = 0) -> list[tuple]:
    """(endpoint, status_code, error_code, billed_seconds) of the key's requests, in order.

    A row is written just after its answer is sent (api.middleware), so a test that reads as
    soon as its client has the answer may be a moment early: with `count`, the rows are read
    again until there are at least that many (or 10 s pass, and the rows are what they are)."""
    deadline = time.monotonic() + 10
    while True:
        rows = platform.query(
            "SELECT u.endpoint, u.status_code, u.error_code, u.billed_seconds "
            "FROM accounts_usagerecord u JOIN accounts_apikey k ON u.api_key_id = k.id "
            "WHERE k.prefix = %s ORDER BY u.created_at, u.id",
            (key[:15],),
        )
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def long_job_submit(platform: LivePlatform, key: str, *, model: str) -> str:
    """An async job of long_speech_flac() (74 s of English speech, three chunks): its id."""
    response = httpx.post(
        f"{platform.api_base}/audio/jobs",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": ("long.flac", long_speech_flac(), "audio/flac")},
        data={"model": model},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]
