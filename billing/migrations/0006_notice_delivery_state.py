# Billing notices get a delivery state. Notices made before it were e-mailed right after their transaction
# committed (a failure was not recorded): they count as sent then, once; those without an address as skipped.

import django.utils.timezone
import django_fsm
from django.db import migrations, models


def existing_notices_sent(apps, schema_editor):
    BillingNotice = apps.get_model("billing", "BillingNotice")
    BillingNotice.objects.exclude(to="").update(status="sent", attempts=1, sent_at=models.F("created_at"))
    BillingNotice.objects.filter(to="").update(status="skipped")


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0005_refund_dispute_run_state_machines'),
    ]

    operations = [
        migrations.AddField(
            model_name='billingnotice',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, help_text='Delivery attempts so far.'),
        ),
        migrations.AddField(
            model_name='billingnotice',
            name='last_error',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='billingnotice',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, help_text='When a failed delivery is tried again.', null=True),
        ),
        migrations.AddField(
            model_name='billingnotice',
            name='sent_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='billingnotice',
            name='status',
            field=django_fsm.FSMField(choices=[('pending', 'Waiting to be sent'), ('sent', 'Sent'), ('failed', 'Failed (will be tried again)'), ('dead', 'Given up'), ('skipped', 'Not e-mailed (no address)')], default='pending', max_length=16, protected=True),
        ),
        migrations.AddField(
            model_name='billingnotice',
            name='updated_at',
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name='billingnotice',
            index=models.Index(condition=models.Q(('status', 'failed')), fields=['next_attempt_at'], name='notice_retry_due'),
        ),
        migrations.RunPython(existing_notices_sent, migrations.RunPython.noop),
    ]
