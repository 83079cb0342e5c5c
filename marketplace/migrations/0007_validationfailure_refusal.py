import uuid

from django.db import migrations, models


def group_refusals(apps, schema_editor):
    """The problems recorded before: those of one request (same second, channel, customer, address and key) share
    one refusal."""
    ValidationFailure = apps.get_model("marketplace", "ValidationFailure")
    groups: dict[tuple, uuid.UUID] = {}
    for failure in ValidationFailure.objects.order_by("pk").iterator():
        key = (
            failure.created_at.replace(microsecond=0),
            failure.channel,
            failure.customer_id,
            failure.address_id,
            failure.idempotency_key,
        )
        refusal = groups.setdefault(key, uuid.uuid4())
        ValidationFailure.objects.filter(pk=failure.pk).update(refusal=refusal)


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0006_participation_settlement_model"),
    ]

    operations = [
        migrations.AddField(
            model_name="validationfailure",
            name="refusal",
            field=models.UUIDField(db_index=True, default=uuid.uuid4),
        ),
        migrations.RunPython(group_refusals, migrations.RunPython.noop),
    ]
