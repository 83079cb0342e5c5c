"""The street index's search text folded (case and accents), so a search without å/ä/ö finds the street on every
database."""

import unicodedata

from django.db import migrations, models


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).replace("ø", "o").replace("æ", "ae")


def refold(apps, schema_editor):
    AddressStreet = apps.get_model("cos", "AddressStreet")
    changed = []
    for street in AddressStreet.objects.only("id", "street", "city", "search_text").iterator(chunk_size=2000):
        folded = _fold(f"{street.street} {street.city}")
        if folded != street.search_text:
            street.search_text = folded
            changed.append(street)
    AddressStreet.objects.bulk_update(changed, ["search_text"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [("cos", "0008_organization_invoice_details")]

    operations = [
        migrations.AlterField(
            model_name="addressstreet",
            name="search_text",
            field=models.CharField(
                help_text="'street city' folded: lower case, without accents (solhöjdsvägen: solhojdsvagen).",
                max_length=320,
            ),
        ),
        migrations.RunPython(refold, migrations.RunPython.noop),
    ]
