"""Existing DRF tokens (rest_framework.authtoken, keys in clear text) become hashed API tokens, so the keys providers
hold keep working; then the clear-text table goes, and with it the app's migration records and content types (the
app is no longer installed, so nothing else would ever remove them)."""

import hashlib
from datetime import UTC

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from django.utils.dateparse import parse_datetime

DRF_TOKEN_TABLE = "authtoken_token"


def _aware(value):
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return timezone.now()
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def drf_tokens_to_api_tokens(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if DRF_TOKEN_TABLE not in connection.introspection.table_names(cursor):
            return
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT {quote('key')}, {quote('user_id')}, {quote('created')} FROM {quote(DRF_TOKEN_TABLE)}")
        rows = cursor.fetchall()
    ApiToken = apps.get_model("cos", "ApiToken")
    for key, user_id, created in rows:
        ApiToken.objects.get_or_create(
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            defaults={"user_id": user_id, "name": "default", "prefix": key[:8], "created_at": _aware(created)},
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {connection.ops.quote_name(DRF_TOKEN_TABLE)}")
        cursor.execute("DELETE FROM django_migrations WHERE app = %s", ["authtoken"])
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="authtoken").delete()  # their permissions go with them


class Migration(migrations.Migration):
    dependencies = [
        ("cos", "0005_api_token"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),  # log entries of the token admin lose their type
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # Backwards there is nothing to restore: the clear-text keys are gone on purpose.
    operations = [migrations.RunPython(drf_tokens_to_api_tokens, migrations.RunPython.noop)]
