"""The flush that ends every `transaction=True` test empties every table, rows that reference
each other included (on PostgreSQL by DELETE: config.test_postgresql)."""

import uuid

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import ApiKey
from accounts.services import api_key_create
from billing.models import UsageRecord
from billing.services.usage import usage_record_create


@pytest.mark.django_db(transaction=True)
def test_flush_empties_every_table(alice, tenant_a):
    key, _ = api_key_create(tenant=tenant_a, name="ci", created_by=alice)
    # A row whose table comes after the ones it references: deleted last, checked at commit.
    usage_record_create(
        request_id=f"req_{uuid.uuid4().hex}",
        method="POST",
        endpoint="/v1/audio/transcriptions",
        status_code=200,
        tenant=tenant_a,
        api_key=key,
    )
    before = rows_per_table()
    assert before[UsageRecord._meta.db_table] == 1 and before[ApiKey._meta.db_table] == 1

    # As TransactionTestCase flushes (sequences kept), without post_migrate, which would put
    # back content types, permissions and schedules.
    call_command(
        "flush", interactive=False, verbosity=0, reset_sequences=False, inhibit_post_migrate=True
    )

    assert {table: rows for table, rows in rows_per_table().items() if rows} == {}


def rows_per_table() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.django_table_names(only_existing=True):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts
