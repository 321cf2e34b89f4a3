"""The move of LivePreview and LiveSession from `transcriptions` to `live` changed Django's state
only: rows written before it (through the models as they were) are read after it through the
new ones, every field intact. Driven with Django's MigrationExecutor, as django-test-migrations
does."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from live.models import LivePreview, LiveSession

pytestmark = pytest.mark.django_db(transaction=True)

# Before the move: transcriptions' last migration with the models, and no `live` at all.
LAST_BEFORE = ("transcriptions", "0010_live_sessions")
BEFORE = [LAST_BEFORE, ("live", None)]


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_rows_written_before_the_move_are_read_after_it(tenant_a):
    seen = timezone.now() - timedelta(seconds=30)
    try:
        old = migrate(BEFORE).loader.project_state(LAST_BEFORE).apps
        applied = MigrationRecorder(connection).applied_migrations()
        assert ("live", "0001_initial") not in applied
        assert ("transcriptions", "0011_live_models_moved") not in applied
        OldPreview = old.get_model("transcriptions", "LivePreview")
        OldSession = old.get_model("transcriptions", "LiveSession")
        preview = OldPreview.objects.create(
            tenant_id=tenant_a.pk,
            model="tiny.en",
            language="en",
            prompt="JFK",
            prefix="And so",
            samples=b"\x01\x00\x02\x00",
            status="done",
            text="And so my fellow Americans",
        )
        session = OldSession.objects.create(
            public_id="sess_before_the_move", tenant_id=tenant_a.pk, seen_at=seen
        )
    finally:
        migrate(latest())

    moved = LivePreview.objects.get(pk=preview.pk)
    assert (moved.tenant, moved.model, moved.language, moved.prompt, moved.prefix) == (
        tenant_a,
        "tiny.en",
        "en",
        "JFK",
        "And so",
    )
    assert bytes(moved.samples) == b"\x01\x00\x02\x00"
    assert (moved.status, moved.text) == (LivePreview.Status.DONE, "And so my fellow Americans")
    counted = LiveSession.objects.get(pk=session.pk)
    assert (counted.public_id, counted.tenant, counted.seen_at) == (
        "sess_before_the_move",
        tenant_a,
        seen,
    )
