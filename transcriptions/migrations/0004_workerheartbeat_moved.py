# WorkerHeartbeat moved to the `ops` app (issue 10): its table stays, ops 0001 adopts it.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('transcriptions', '0003_job_quota'),
        ('ops', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='WorkerHeartbeat')],
        ),
    ]
