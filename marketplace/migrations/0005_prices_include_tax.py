import django.core.validators
from django.db import migrations, models

# As marketplace.choices.SEGMENTS_WITH_TAX_INCLUDED when this was written (a migration keeps its own copy).
CONSUMER_SEGMENTS = ("residential", "municipal")


def consumer_marketplaces_include_tax(apps, schema_editor):
    """Consumers' marketplaces that have sold nothing yet state prices including VAT from now on; business
    marketplaces keep net prices. One that has subscriptions keeps net prices: its subscriptions were agreed at net
    prices with VAT added, and reading them as gross would charge them a fifth less."""
    Marketplace = apps.get_model("marketplace", "Marketplace")
    Subscription = apps.get_model("marketplace", "Subscription")
    sold = Subscription.objects.values("marketplace_id")
    Marketplace.objects.filter(segment__in=CONSUMER_SEGMENTS).exclude(pk__in=sold).update(prices_include_tax=True)


class Migration(migrations.Migration):

    dependencies = [
        ('marketplace', '0004_price_versions_never_overlap'),
    ]

    operations = [
        migrations.AddField(
            model_name='marketplace',
            name='prices_include_tax',
            field=models.BooleanField(default=False, help_text='Prices, offers and invoices state gross amounts with the VAT they include (consumers: residential and municipal marketplaces). Off: net prices with VAT added (business). Issued invoices keep the way they were priced.'),
        ),
        migrations.AlterField(
            model_name='marketplace',
            name='tax_rate',
            field=models.DecimalField(decimal_places=4, help_text='VAT as a fraction, e.g. 0.2500 for 25 %: added to the prices, or included in them (below).', max_digits=5, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(1)]),
        ),
        migrations.RunPython(consumer_marketplaces_include_tax, migrations.RunPython.noop),
    ]
