# Plans, quotas, the usage log and Idempotency-Key records moved to the `billing` app
# (issue 10). Only Django's state changes: the tables keep their names and their rows
# (billing 0001 adopts them), and tenant.plan still points at the same table.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_default_plan'),
        ('billing', '0001_initial'),
    ]

    state_operations = [
        migrations.AlterField(
            model_name='tenant',
            name='plan',
            field=models.ForeignKey(blank=True, help_text='Empty: the default plan.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='tenants', to='billing.plan'),
        ),
        migrations.DeleteModel(name='ActiveJobs'),
        migrations.DeleteModel(name='IdempotencyRecord'),
        migrations.DeleteModel(name='PlanOverride'),
        migrations.DeleteModel(name='QuotaPeriod'),
        migrations.DeleteModel(name='UsageRecord'),
        migrations.DeleteModel(name='Plan'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
    ]
