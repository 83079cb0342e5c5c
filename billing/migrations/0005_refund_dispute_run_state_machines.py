# Refund, dispute and billing-run statuses become state machines (django-fsm, protected, logged): the columns keep
# their type and length, so every row keeps its status. A setup webhook is applied after commit: a new outcome.

import django_fsm
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0004_amounts_within_bounds'),
    ]

    operations = [
        migrations.AlterField(
            model_name='billingrun',
            name='status',
            field=django_fsm.FSMField(choices=[('running', 'Running'), ('done', 'Done')], default='running', max_length=16, protected=True),
        ),
        migrations.AlterField(
            model_name='dispute',
            name='status',
            field=django_fsm.FSMField(choices=[('open', 'Open'), ('won', 'Won'), ('lost', 'Lost')], default='open', max_length=16, protected=True),
        ),
        migrations.AlterField(
            model_name='refund',
            name='status',
            field=django_fsm.FSMField(choices=[('pending', 'Pending'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='pending', max_length=16, protected=True),
        ),
        migrations.AlterField(
            model_name='gatewayevent',
            name='outcome',
            field=models.CharField(choices=[('applied', 'Applied'), ('ignored', 'Ignored (nothing to change)'), ('unmatched', 'No matching payment'), ('unhandled', 'Event type not handled'), ('deferred', 'Recorded; applied after commit (calls the gateway)')], max_length=16),
        ),
    ]
