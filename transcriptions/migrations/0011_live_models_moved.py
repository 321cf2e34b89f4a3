# LivePreview and LiveSession moved to the `live` app (issue 27). Only Django's state changes:
# the tables keep their names and their rows (live 0001 adopts them, and runs first).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('transcriptions', '0010_live_sessions'),
        ('live', '0001_initial'),
    ]

    state_operations = [
        migrations.DeleteModel(name='LivePreview'),
        migrations.DeleteModel(name='LiveSession'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations, database_operations=[]),
    ]
