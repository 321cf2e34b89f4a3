# The billing models moved here from `accounts` (issue 10). Their tables stay where they are
# (`db_table`): this migration only tells Django's state that billing owns them now; the
# database is not touched. accounts 0004 removes them from accounts' state.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0003_default_plan'),
    ]

    state_operations = [
        migrations.CreateModel(
            name='Plan',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slug', models.SlugField(max_length=64, unique=True)),
                ('name', models.CharField(max_length=100)),
                ('is_default', models.BooleanField(default=False, help_text='The plan of every tenant that has none chosen.')),
                ('monthly_audio_seconds', models.PositiveBigIntegerField(help_text='Audio seconds a tenant may use per calendar month (UTC).')),
                ('requests_per_minute', models.PositiveIntegerField(help_text='API requests per minute, for the tenant and for each of its keys.')),
                ('concurrent_jobs', models.PositiveIntegerField(help_text='Jobs queued or running at once.')),
                ('max_file_bytes', models.PositiveBigIntegerField(help_text='Largest upload, in bytes.')),
                ('max_audio_seconds', models.PositiveIntegerField(help_text='Longest audio, in seconds.')),
                ('price_per_minute', models.DecimalField(decimal_places=4, help_text='Price per billed audio minute.', max_digits=10)),
                ('currency', models.CharField(default='USD', max_length=3)),
                ('retention_days', models.PositiveIntegerField(help_text='Days transcripts are kept (0: forever).')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'db_table': 'accounts_plan',
                'ordering': ['slug'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('is_default', True)), fields=('is_default',), name='one_default_plan'), models.CheckConstraint(condition=models.Q(('price_per_minute__gte', 0)), name='plan_price_not_negative')],
            },
        ),
        migrations.CreateModel(
            name='PlanOverride',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('monthly_audio_seconds', models.PositiveBigIntegerField(blank=True, null=True)),
                ('requests_per_minute', models.PositiveIntegerField(blank=True, null=True)),
                ('concurrent_jobs', models.PositiveIntegerField(blank=True, null=True)),
                ('max_file_bytes', models.PositiveBigIntegerField(blank=True, null=True)),
                ('max_audio_seconds', models.PositiveIntegerField(blank=True, null=True)),
                ('price_per_minute', models.DecimalField(blank=True, decimal_places=4, max_digits=10, null=True)),
                ('retention_days', models.PositiveIntegerField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('tenant', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='plan_override', to='accounts.tenant')),
            ],
            options={
                'db_table': 'accounts_planoverride',
            },
        ),
        migrations.CreateModel(
            name='QuotaPeriod',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period', models.DateField(help_text='First day of the month (UTC)')),
                ('reserved_seconds', models.BigIntegerField(default=0)),
                ('used_seconds', models.BigIntegerField(default=0)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='quota_periods', to='accounts.tenant')),
            ],
            options={
                'db_table': 'accounts_quotaperiod',
                'ordering': ['tenant', '-period'],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'period'), name='unique_quota_period'), models.CheckConstraint(condition=models.Q(('reserved_seconds__gte', 0)), name='quota_reserved_not_negative'), models.CheckConstraint(condition=models.Q(('used_seconds__gte', 0)), name='quota_used_not_negative')],
            },
        ),
        migrations.CreateModel(
            name='ActiveJobs',
            fields=[
                ('tenant', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='active_jobs', serialize=False, to='accounts.tenant')),
                ('count', models.IntegerField(default=0)),
            ],
            options={
                'db_table': 'accounts_activejobs',
                'verbose_name_plural': 'active jobs',
                'constraints': [models.CheckConstraint(condition=models.Q(('count__gte', 0)), name='active_jobs_not_negative')],
            },
        ),
        migrations.CreateModel(
            name='UsageRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('request_id', models.CharField(max_length=64, unique=True)),
                ('method', models.CharField(max_length=8)),
                ('endpoint', models.CharField(max_length=200)),
                ('model', models.CharField(blank=True, max_length=64)),
                ('job_id', models.CharField(blank=True, db_index=True, max_length=40)),
                ('status_code', models.PositiveSmallIntegerField()),
                ('error_code', models.CharField(blank=True, max_length=64)),
                ('request_bytes', models.PositiveBigIntegerField(default=0)),
                ('audio_seconds', models.FloatField(blank=True, null=True)),
                ('billed_seconds', models.PositiveIntegerField(blank=True, help_text="Empty while the request's job has not ended", null=True)),
                ('processing_ms', models.PositiveIntegerField(default=0)),
                ('idempotency_key', models.CharField(blank=True, max_length=255)),
                ('replayed', models.BooleanField(default=False, help_text='Answered from an earlier request with the same Idempotency-Key')),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('api_key', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='usage_records', to='accounts.apikey')),
                ('tenant', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='usage_records', to='accounts.tenant')),
            ],
            options={
                'db_table': 'accounts_usagerecord',
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['tenant', 'created_at'], name='accounts_us_tenant__496d30_idx')],
            },
        ),
        migrations.CreateModel(
            name='IdempotencyRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=255)),
                ('fingerprint', models.CharField(help_text='SHA-256 of the request body', max_length=64)),
                ('request_id', models.CharField(max_length=64)),
                ('job_id', models.CharField(blank=True, help_text='Empty while it is created', max_length=40)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='idempotency_records', to='accounts.tenant')),
            ],
            options={
                'db_table': 'accounts_idempotencyrecord',
                'constraints': [models.UniqueConstraint(fields=('tenant', 'key'), name='unique_idempotency_key')],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
    ]
