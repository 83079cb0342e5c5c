"""On PostgreSQL, the versions of one rate card scope (operator, provider, marketplace, area) never overlap in
time: an exclusion constraint over their validity ranges. (Other databases: the service refuses an overlap.)"""

from django.db import migrations


def add(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        "ALTER TABLE wholesale_ratecard ADD CONSTRAINT rate_card_versions_never_overlap EXCLUDE USING gist ("
        "operator_id WITH =, (COALESCE(provider_id, 0)) WITH =, (COALESCE(marketplace_id, 0)) WITH =, "
        "(COALESCE(area_id, 0)) WITH =, daterange(valid_from, valid_to, '[)') WITH &&)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE wholesale_ratecard DROP CONSTRAINT IF EXISTS rate_card_versions_never_overlap")


class Migration(migrations.Migration):
    dependencies = [("wholesale", "0001_initial")]

    operations = [migrations.RunPython(add, drop)]
