# A default plan so that every tenant (the demo tenant of `make run` included) works out of the
# box. The figures are copied here, not imported: a migration must not change when the code does.

from decimal import Decimal

from django.db import migrations

DEFAULT_PLAN = {
    "slug": "default",
    "name": "Default",
    "is_default": True,
    "monthly_audio_seconds": 360_000,
    "requests_per_minute": 6_000,
    "concurrent_jobs": 64,
    "max_file_bytes": 26_214_400,
    "max_audio_seconds": 7_200,
    "price_per_minute": Decimal("0.0060"),
    "currency": "USD",
    "retention_days": 30,
}


def create_default_plan(apps, schema_editor):
    try:
        Plan = apps.get_model("accounts", "Plan")
    except LookupError:  # called with today's registry: the model is billing's since 0004
        Plan = apps.get_model("billing", "Plan")
    if not Plan.objects.filter(is_default=True).exists():
        Plan.objects.update_or_create(slug=DEFAULT_PLAN["slug"], defaults=DEFAULT_PLAN)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_plans_quotas_usage'),
    ]

    operations = [
        migrations.RunPython(create_default_plan, migrations.RunPython.noop),
    ]
