"""Provider notifications move to the core (cos.ProviderNotification): every app records them now."""

from django.db import migrations


def copy_to_cos(apps, schema_editor):
    Old = apps.get_model("workorders", "ProviderNotification")
    New = apps.get_model("cos", "ProviderNotification")
    New.objects.bulk_create(
        [
            New(
                provider_id=n.provider_id,
                event_id=n.event_id,
                topic=n.topic,
                payload=n.payload,
                delivered_at=n.delivered_at,
                created_at=n.created_at,
                updated_at=n.updated_at,
            )
            for n in Old.objects.all().iterator()
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("workorders", "0001_initial"),
        ("cos", "0003_provider_notification"),
    ]

    operations = [
        migrations.RunPython(copy_to_cos, migrations.RunPython.noop),
        migrations.DeleteModel(name="ProviderNotification"),
    ]
