# The worker registry moved here from `transcriptions` (issue 10) with its table, which
# transcriptions 0001 created: only Django's state changes (transcriptions 0004 lets go of it).

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('transcriptions', '0003_job_quota'),
    ]

    state_operations = [
        migrations.CreateModel(
            name='WorkerHeartbeat',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hostname', models.CharField(max_length=255)),
                ('pid', models.PositiveIntegerField()),
                ('loaded_models', models.JSONField(default=list)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_seen', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'db_table': 'transcriptions_workerheartbeat',
                'constraints': [models.UniqueConstraint(fields=('hostname', 'pid'), name='unique_worker_process')],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
    ]
