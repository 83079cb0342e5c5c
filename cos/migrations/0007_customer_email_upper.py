"""Case-insensitive lookups on hot paths get indexes they can use: `email__iexact` on customers (an order for
someone the provider already has) and `username__iexact` on logins (the checkout's "is this e-mail taken")."""

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cos", "0006_api_tokens_from_drf_tokens"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(django.db.models.functions.text.Upper("email"), name="customer_email_upper"),
        ),
        # auth_user belongs to django.contrib.auth: the index is added here, by name, and dropped the same way.
        migrations.RunSQL(
            'CREATE INDEX IF NOT EXISTS "auth_user_username_upper" ON "auth_user" (UPPER("username"))',
            'DROP INDEX IF EXISTS "auth_user_username_upper"',
        ),
    ]
