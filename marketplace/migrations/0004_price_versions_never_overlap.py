"""On PostgreSQL the database itself keeps the price versions of one product in one marketplace from overlapping
(marketplace.services.price_save closes an open-ended version before it adds the next)."""

from django.db import migrations

TABLE = "marketplace_price"


def constraint_add(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT price_versions_never_overlap EXCLUDE USING gist "
        "(product_id WITH =, marketplace_id WITH =, daterange(valid_from, valid_to, '[)') WITH &&)"
    )


def constraint_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS price_versions_never_overlap")


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0003_lifecycle_switches_changes")]

    operations = [migrations.RunPython(constraint_add, constraint_drop)]
