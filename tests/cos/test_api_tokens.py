"""API tokens are stored hashed: the key works, a wrong, expired or revoked one is a JSON 401 with a code, the key
is shown once when it is issued and nowhere after, and rotation retires the old key."""

import hashlib
import importlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cos.choices import Role
from cos.models import ApiToken
from cos.services import api_token_issue, api_token_revoke, api_token_rotate, membership_grant
from tests.cos.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


@pytest.fixture
def provider_user():
    user = UserFactory(username="acme-api")
    membership_grant(user=user, organization=OrganizationFactory(name="Acme"), role=Role.API)
    return user


def _get(key: str, keyword: str = "Token"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {key}")
    return client.get(ME)


def _stored_values(token: ApiToken) -> list[str]:
    """Every column of the token's row as the database holds it."""
    table = connection.ops.quote_name(ApiToken._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [token.pk])
        return [str(value) for value in cursor.fetchone()]


def _keys_shown(response) -> list[str]:
    body = response.content.decode()
    return [part.split("</code>")[0] for part in body.split('<code class="api-key">')[1:]]


def _admin_client(client, username="boss"):
    user = UserFactory(username=username)
    membership_grant(user=user, organization=OrganizationFactory(kind="network_operator"), role=Role.ADMIN)
    client.force_login(user)
    return client


# --- the key works, others are refused with a code ---------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["Token", "Bearer", "token"])
def test_the_key_authenticates_with_the_token_or_bearer_keyword(provider_user, keyword):
    # given
    _, key = api_token_issue(user=provider_user, name="production")

    # when
    response = _get(key, keyword)

    # then
    assert response.status_code == 200
    assert response.json() == {"provider": "Acme", "user": "acme-api"}


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Token not-a-real-key", "token_invalid"),
        ("Token", "token_invalid"),
        ("Token two parts", "token_invalid"),
        ("Bearer " + "x" * 500, "token_invalid"),
    ],
)
def test_a_wrong_key_is_a_json_401_with_a_code(provider_user, header, code):
    # given
    api_token_issue(user=provider_user, name="production")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    # when
    response = client.get(ME)

    # then
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert response["WWW-Authenticate"] == "Token"


def test_an_expired_key_is_refused_as_expired(provider_user):
    # given
    token, key = api_token_issue(user=provider_user, name="production", expires_at=timezone.now() + timedelta(days=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    # when
    response = _get(key)

    # then
    assert response.status_code == 401
    assert response.json() == {
        "code": "token_expired",
        "message": "This token has expired; ask the network operator for a new one.",
    }


def test_a_revoked_key_is_refused_as_revoked(provider_user):
    # given
    token, key = api_token_issue(user=provider_user, name="production")
    assert _get(key).status_code == 200

    # when
    api_token_revoke(token_id=token.pk)
    response = _get(key)

    # then
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_the_key_of_an_inactive_user_is_refused(provider_user):
    # given
    _, key = api_token_issue(user=provider_user, name="production")
    provider_user.is_active = False
    provider_user.save(update_fields=["is_active"])

    # when
    response = _get(key)

    # then
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


def test_a_token_cannot_be_issued_already_expired_or_without_a_name(provider_user):
    with pytest.raises(ValidationError, match="future"):
        api_token_issue(user=provider_user, name="x", expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationError, match="name"):
        api_token_issue(user=provider_user, name="  ")
    assert not ApiToken.objects.exists()


# --- what is kept ------------------------------------------------------------------------------------------------


def test_the_database_never_holds_the_key(provider_user):
    # when
    token, key = api_token_issue(user=provider_user, name="production")

    # then: its hash and first characters, never the key
    stored = _stored_values(token)
    assert not any(key in value for value in stored)
    assert hashlib.sha256(key.encode()).hexdigest() in stored
    assert token.prefix == key[:8]
    assert len(key) >= 40


def test_last_used_at_is_set_and_written_at_most_once_a_minute(provider_user):
    # given
    token, key = api_token_issue(user=provider_user, name="production")
    assert token.last_used_at is None

    # when: first use
    _get(key)
    # then
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None

    # when: used again within the minute
    _get(key)
    # then: not written again
    token.refresh_from_db()
    assert token.last_used_at == first

    # when: used after more than a minute
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    _get(key)
    # then
    token.refresh_from_db()
    assert token.last_used_at > first


def test_rotation_revokes_the_old_key_and_the_new_one_works(provider_user):
    # given
    old, old_key = api_token_issue(user=provider_user, name="production")
    _, other_key = api_token_issue(user=provider_user, name="staging")

    # when
    new, new_key = api_token_rotate(user=provider_user)

    # then: every old key of the user is retired
    assert _get(old_key).json()["code"] == "token_revoked"
    assert _get(other_key).json()["code"] == "token_revoked"
    assert _get(new_key).status_code == 200
    assert new.name == "staging"
    assert ApiToken.objects.filter(user=provider_user, revoked_at__isnull=True).get() == new


def test_existing_drf_tokens_are_migrated_and_keep_working(provider_user):
    # given: the clear-text table of rest_framework.authtoken with a provider's key
    created = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"
    key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE TABLE authtoken_token ("key" varchar(40) PRIMARY KEY, "created" {created} NOT NULL, '
            '"user_id" integer NOT NULL)'
        )
        cursor.execute(
            'INSERT INTO authtoken_token ("key", "created", "user_id") VALUES (%s, %s, %s)',
            [key, connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(days=30)), provider_user.pk],
        )
    migration = importlib.import_module("cos.migrations.0006_api_tokens_from_drf_tokens")

    # when
    migration.drf_tokens_to_api_tokens(apps, SimpleNamespace(connection=connection))

    # then: the key works, only its hash is kept, and the clear-text table is gone
    assert _get(key).status_code == 200
    token = ApiToken.objects.get(user=provider_user)
    assert token.prefix == key[:8]
    assert (timezone.now() - token.created_at).days == 30
    assert "authtoken_token" not in connection.introspection.table_names()
    assert not any(key in value for value in _stored_values(token))


# --- the admin: the key once, then never -------------------------------------------------------------------------


def test_the_admin_issues_a_token_shows_the_key_once_and_never_lists_it(client, provider_user):
    # given
    _admin_client(client)

    # when
    issued = client.post(
        reverse("admin:cos_apitoken_add"),
        {"user": provider_user.pk, "name": "production", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )

    # then: the page after issuing shows the key
    token = ApiToken.objects.get(user=provider_user)
    body = issued.content.decode()
    key = body.split(f"The key of {token}: ")[1].split(" ")[0]
    assert hashlib.sha256(key.encode()).hexdigest() == token.key_hash
    assert _get(key).status_code == 200

    # and then: neither the list nor the token's page show the key or its hash
    listing = client.get(reverse("admin:cos_apitoken_changelist")).content.decode()
    detail = client.get(reverse("admin:cos_apitoken_change", args=[token.pk])).content.decode()
    for page in (listing, detail):
        assert token.prefix in page
        assert key not in page
        assert token.key_hash not in page
    for column in ("Name", "User", "Prefix", "Created at", "Last used at", "Expires at", "Revoked at"):
        assert column.lower() in listing.lower()


def test_the_admin_issue_action_on_users_shows_each_key_once(client, provider_user):
    # given
    _admin_client(client)
    other = UserFactory(username="other-api")

    # when
    response = client.post(
        reverse("admin:auth_user_changelist"),
        {
            "action": "issue_api_token",
            "_selected_action": [provider_user.pk, other.pk],
            "apply": "1",
            "name": "production",
            "expires_at": "",
        },
        follow=True,
    )

    # then: the page shows each new key, is not cached, and the next page shows none
    keys = _keys_shown(response)
    assert len(keys) == 2
    assert response["Cache-Control"].startswith("max-age=0")
    assert {hashlib.sha256(key.encode()).hexdigest() for key in keys} == set(
        ApiToken.objects.filter(name="production").values_list("key_hash", flat=True)
    )
    again = client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert not any(key in again for key in keys)


def test_the_admin_rotate_action_revokes_the_old_key(client, provider_user):
    # given
    _admin_client(client)
    old, old_key = api_token_issue(user=provider_user, name="production")

    # when
    response = client.post(
        reverse("admin:cos_apitoken_changelist"), {"action": "rotate", "_selected_action": [old.pk]}, follow=True
    )

    # then
    new = ApiToken.objects.get(user=provider_user, revoked_at__isnull=True)
    [key] = _keys_shown(response)
    assert hashlib.sha256(key.encode()).hexdigest() == new.key_hash
    assert _get(old_key).json()["code"] == "token_revoked"
    assert _get(key).status_code == 200


def test_a_non_superuser_admin_cannot_issue_a_superusers_token(client, django_user_model):
    # given
    _admin_client(client)
    root = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456")

    # when
    response = client.post(
        reverse("admin:cos_apitoken_add"), {"user": root.pk, "name": "x", "expires_at_0": "", "expires_at_1": ""}
    )

    # then
    assert response.status_code == 200
    assert "Only a superuser issues a superuser" in response.content.decode()
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("role", [Role.OPERATIONS, Role.FINANCE])
def test_operations_and_finance_cannot_issue_or_rotate_tokens(client, provider_user, role):
    # given
    staff = UserFactory(username=role)
    membership_grant(user=staff, organization=OrganizationFactory(kind="network_operator"), role=role)
    client.force_login(staff)
    token, key = api_token_issue(user=provider_user, name="production")

    # when
    add = client.post(
        reverse("admin:cos_apitoken_add"),
        {"user": provider_user.pk, "name": "mine", "expires_at_0": "", "expires_at_1": ""},
    )
    rotate = client.post(reverse("admin:cos_apitoken_changelist"), {"action": "rotate", "_selected_action": [token.pk]})

    # then
    assert add.status_code == 403
    assert rotate.status_code == 403
    assert list(ApiToken.objects.values_list("pk", flat=True)) == [token.pk]
    assert _get(key).status_code == 200
