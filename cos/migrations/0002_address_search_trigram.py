"""Address search on PostgreSQL: the pg_trgm extension and a trigram GIN index on the street index.

On other databases (SQLite for `make run`) this migration does nothing: the search falls back
to substring matching there.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

CREATE = "CREATE INDEX IF NOT EXISTS cos_addressstreet_search_trgm ON cos_addressstreet USING gin (search_text gin_trgm_ops)"
DROP = "DROP INDEX IF EXISTS cos_addressstreet_search_trgm"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("cos", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(forwards, backwards),
    ]
