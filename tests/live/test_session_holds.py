"""The quota a realtime session's previews hold is on its LiveSession row too, so that a web
process SIGKILLed mid-turn (issue 29's fault 3) does not keep those seconds reserved for good:
the tenant's next session reaps the rows of this machine's processes that are gone and gives
their holds back; the hourly purge does the same for rows of any machine once stale."""

import socket
import subprocess
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from billing.models import QuotaPeriod
from live.models import LiveSession
from live.services import preview_billing, preview_decoding
from live.services.preview_billing import (
    PreviewCharge,
    live_preview_hold,
    live_preview_release,
    live_preview_settle,
)
from live.services.session_slots import live_session_open
from ops import outages
from tests.clocks import OutageClock
from transcriptions.services import retention

pytestmark = pytest.mark.django_db(transaction=True)
SAMPLE_RATE = 16000


def reserved(tenant) -> int:
    return sum(QuotaPeriod.objects.filter(tenant=tenant).values_list("reserved_seconds", flat=True))


def gone_process() -> str:
    """hostname:pid of a process of this machine that has exited."""
    done = subprocess.Popen(["true"])
    done.wait()
    return f"{socket.gethostname()}:{done.pid}"


def held_by_session(tenant, session_id: str, seconds: int) -> PreviewCharge:
    charge = PreviewCharge(session_id=session_id)
    assert live_preview_hold(tenant=tenant, charge=charge, samples=seconds * SAMPLE_RATE)
    return charge


def test_a_killed_web_process_s_holds_are_given_back_by_the_tenants_next_session(tenant_a):
    assert live_session_open(tenant_id=tenant_a.pk, session_id="sess_killed", limit=1)
    held_by_session(tenant_a, "sess_killed", 3)
    assert reserved(tenant_a) == 3
    assert LiveSession.objects.get(public_id="sess_killed").held_seconds == 3
    # Its web process is SIGKILLed: nothing of it runs to give the hold back.
    LiveSession.objects.filter(public_id="sess_killed").update(process=gone_process())

    # The client reconnects: its place is free at once, and the seconds are back.
    assert live_session_open(tenant_id=tenant_a.pk, session_id="sess_again", limit=1)
    assert reserved(tenant_a) == 0
    assert not LiveSession.objects.filter(public_id="sess_killed").exists()
    assert QuotaPeriod.objects.get(tenant=tenant_a).used_seconds == 0


def test_a_session_whose_process_lives_keeps_its_place_and_its_hold(tenant_a):
    assert live_session_open(tenant_id=tenant_a.pk, session_id="sess_alive", limit=1)
    held_by_session(tenant_a, "sess_alive", 2)
    assert not live_session_open(tenant_id=tenant_a.pk, session_id="sess_other", limit=1)
    assert reserved(tenant_a) == 2


def test_a_turns_end_takes_its_hold_off_the_row(tenant_a):
    assert live_session_open(tenant_id=tenant_a.pk, session_id="sess_turns", limit=1)
    committed = held_by_session(tenant_a, "sess_turns", 2)
    live_preview_release(tenant=tenant_a, charge=committed)
    cleared = held_by_session(tenant_a, "sess_turns", 3)
    cleared.sent_seconds = 1.0
    live_preview_settle(tenant=tenant_a, api_key=None, model="tiny.en", charge=cleared, end="x")
    assert LiveSession.objects.get(public_id="sess_turns").held_seconds == 0
    assert reserved(tenant_a) == 0


def test_the_purge_gives_back_the_holds_of_stale_rows_of_any_machine(tenant_a):
    assert live_session_open(tenant_id=tenant_a.pk, session_id="sess_far", limit=1)
    held_by_session(tenant_a, "sess_far", 4)
    LiveSession.objects.filter(public_id="sess_far").update(
        process="another-host:123", seen_at=timezone.now() - timedelta(minutes=11)
    )
    assert retention.purge_expired()["live_sessions"] == 1
    assert reserved(tenant_a) == 0


READ_ONLY = "cannot execute UPDATE in a read-only transaction"


def test_a_turn_ending_while_the_database_is_read_only_for_20_s_gives_its_hold_back(
    tenant_a, monkeypatch
):
    """A failover's read-only spell (the fault harness's 20 s) as the session ends: the drop of
    its last preview does not stop the close, and the hold is settled once writes come back
    (it was tried for 10 s, then left held until the session's row was reaped)."""
    assert live_session_open(tenant_id=tenant_a.pk, session_id="sess_ro", limit=1)
    charge = held_by_session(tenant_a, "sess_ro", 3)
    clock = OutageClock()
    monkeypatch.setattr(outages, "time", clock)
    real_unhold = preview_billing.quota_unhold

    def read_only_for_20_s(**kwargs):
        if clock.now < 20:
            raise OperationalError(READ_ONLY)
        return real_unhold(**kwargs)

    monkeypatch.setattr(preview_billing, "quota_unhold", read_only_for_20_s)

    def delete_refused(*args, **kwargs):
        raise OperationalError(READ_ONLY)

    monkeypatch.setattr(preview_decoding.LivePreview.objects, "filter", delete_refused)
    preview_decoding.live_preview_drop(1)  # left for the purge, not raised
    live_preview_settle(tenant=tenant_a, api_key=None, model="tiny.en", charge=charge, end="x")

    assert clock.now >= 20
    assert reserved(tenant_a) == 0
    assert LiveSession.objects.get(public_id="sess_ro").held_seconds == 0
