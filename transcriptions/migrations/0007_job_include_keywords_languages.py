from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('transcriptions', '0006_chunks'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='include',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='job',
            name='keywords',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='job',
            name='languages',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='job',
            name='partial_logprobs',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='chunk',
            name='partial_logprobs',
            field=models.JSONField(blank=True, default=list),
        ),
    ]
