# The live models moved here from `transcriptions` (issue 27). Their tables stay where they are
# (`db_table`): this migration only tells Django's state that live owns them now; the
# database is not touched. transcriptions 0011 removes them from transcriptions' state.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0004_billing_models_moved'),
        # The tables this migration adopts are made there (from an empty database too).
        ('transcriptions', '0010_live_sessions'),
    ]

    state_operations = [
        migrations.CreateModel(
            name='LivePreview',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('model', models.CharField(max_length=64)),
                ('language', models.CharField(blank=True, max_length=8)),
                ('prompt', models.TextField(blank=True)),
                ('prefix', models.TextField(blank=True)),
                ('samples', models.BinaryField()),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('done', 'Done'), ('failed', 'Failed')], default='queued', max_length=16)),
                ('text', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.tenant')),
            ],
            options={
                'db_table': 'transcriptions_livepreview',
            },
        ),
        migrations.CreateModel(
            name='LiveSession',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.CharField(max_length=40, unique=True)),
                ('opened_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('seen_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.tenant')),
            ],
            options={
                'db_table': 'transcriptions_livesession',
                'indexes': [models.Index(fields=['tenant', 'seen_at'], name='transcripti_tenant__9964b6_idx')],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations, database_operations=[]),
    ]
