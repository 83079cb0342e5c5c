"""Who is calling the API: `Authorization: Token <key>` (or `Bearer <key>`), looked up by the key's hash."""

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from cos.api.throttling import bad_key_count, bad_keys_check, calls_count
from cos.choices import OrganizationKind
from cos.models import ApiToken, Membership, Organization
from cos.models.tokens import api_token_hash
from cos.services import api_token_mark_used

KEYWORDS = (b"token", b"bearer")
MAX_KEY_LENGTH = 200  # a longer "key" is no key of ours; it is refused before it is hashed


def _refused(code: str, message: str) -> AuthenticationFailed:
    return AuthenticationFailed(message, code=code)


class _Rows:
    """One model's concrete columns under a table alias in hand-written SQL, and its instances built from them
    with the conversions the ORM applies (SQLite returns naive datetimes and integers for booleans)."""

    def __init__(self, model, alias: str) -> None:
        self.model, self.fields = model, model._meta.concrete_fields
        self.table, self.alias = model._meta.db_table, alias
        self._converters: dict[str, list] = {}

    def select(self, quote) -> str:
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    def instance(self, values, using: str):
        connection = connections[using]
        if connection.vendor not in self._converters:
            self._converters[connection.vendor] = [
                (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
                for col in (field.get_col(self.table) for field in self.fields)
            ]
        converted = []
        for (col, converters), value in zip(self._converters[connection.vendor], values, strict=True):
            for convert in converters:
                value = convert(value, col, connection)
            converted.append(value)
        return self.model.from_db(using, [field.attname for field in self.fields], converted)


_TOKEN, _USER, _PROVIDER = _Rows(ApiToken, "t"), _Rows(get_user_model(), "u"), _Rows(Organization, "o")


def _provider_token(key_hash: str, using: str = DEFAULT_DB_ALIAS) -> ApiToken | None:
    """A provider's token with its user and provider (as `token.provider`) in one query, the usual case; None
    for any other key (unknown, or of a user of no service provider), which the caller looks up the long way."""
    quote = connections[using].ops.quote_name
    sql = (
        f"SELECT {_TOKEN.select(quote)}, {_USER.select(quote)}, {_PROVIDER.select(quote)} "
        f"FROM {quote(_TOKEN.table)} t JOIN {quote(_USER.table)} u ON u.id = t.user_id "
        f"JOIN {quote(Membership._meta.db_table)} m ON m.user_id = u.id "
        f"JOIN {quote(_PROVIDER.table)} o ON o.id = m.organization_id "
        "WHERE t.key_hash = %s AND o.kind = %s ORDER BY o.id LIMIT 1"
    )
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [key_hash, OrganizationKind.SERVICE_PROVIDER])
        row = cursor.fetchone()
    if row is None:
        return None
    first, second = len(_TOKEN.fields), len(_TOKEN.fields) + len(_USER.fields)
    token = _TOKEN.instance(row[:first], using)
    token.user = _USER.instance(row[first:second], using)
    token.provider = _PROVIDER.instance(row[second:], using)
    return token


class ApiTokenAuthentication(BaseAuthentication):
    """The user of an active, unexpired API token; any other key is a 401 with a code that says why.

    A request without one of our keywords is left to the next authentication class (the admin's session).
    """

    def authenticate(self, request):
        words = get_authorization_header(request).split()
        if not words or words[0].lower() not in KEYWORDS:
            return None
        if len(words) != 2:
            bad_keys_check(request)
            raise _refused("token_invalid", "Send the key as 'Authorization: Token <key>', with no spaces in the key.")
        try:
            key = words[1].decode("ascii")
        except UnicodeError:
            bad_keys_check(request)
            raise _refused("token_invalid", "The token is not valid.") from None
        if len(key) > MAX_KEY_LENGTH:
            bad_keys_check(request)
            raise _refused("token_invalid", "The token is not valid.")
        return self.authenticate_credentials(key, request)

    def authenticate_credentials(self, key: str, request=None):
        key_hash = api_token_hash(key)
        token = _provider_token(key_hash) or ApiToken.objects.select_related("user").filter(key_hash=key_hash).first()
        if token is None:
            if request is not None:
                bad_keys_check(request)
                bad_key_count(request)
            raise _refused("token_invalid", "The token is not valid.")
        if request is not None:
            calls_count(request, token.user)  # a locked-out address is refused even with a right key
        if token.revoked_at is not None:
            raise _refused("token_revoked", "This token has been revoked; ask the network operator for a new one.")
        if token.is_expired():
            raise _refused("token_expired", "This token has expired; ask the network operator for a new one.")
        if not token.user.is_active:
            raise _refused("user_inactive", "The token's user is inactive.")
        api_token_mark_used(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Token"  # makes a refusal a 401, not a 403


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the schema documents the token header."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'The API token with the prefix "Token" (or "Bearer"), e.g. "Token 3kX9f..."',
        }
