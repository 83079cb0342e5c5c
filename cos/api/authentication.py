"""Who is calling the API: `Authorization: Token <key>` (or `Bearer <key>`), looked up by the key's hash."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from cos.api.throttling import bad_key_count, bad_keys_check
from cos.models import ApiToken
from cos.models.tokens import api_token_hash
from cos.services import api_token_mark_used

KEYWORDS = (b"token", b"bearer")
MAX_KEY_LENGTH = 200  # a longer "key" is no key of ours; it is refused before it is hashed


def _refused(code: str, message: str) -> AuthenticationFailed:
    return AuthenticationFailed(message, code=code)


class ApiTokenAuthentication(BaseAuthentication):
    """The user of an active, unexpired API token; any other key is a 401 with a code that says why.

    A request without one of our keywords is left to the next authentication class (the admin's session).
    """

    def authenticate(self, request):
        words = get_authorization_header(request).split()
        if not words or words[0].lower() not in KEYWORDS:
            return None
        bad_keys_check(request)
        if len(words) != 2:
            raise _refused("token_invalid", "Send the key as 'Authorization: Token <key>', with no spaces in the key.")
        try:
            key = words[1].decode("ascii")
        except UnicodeError:
            raise _refused("token_invalid", "The token is not valid.") from None
        if len(key) > MAX_KEY_LENGTH:
            raise _refused("token_invalid", "The token is not valid.")
        return self.authenticate_credentials(key, request)

    def authenticate_credentials(self, key: str, request=None):
        token = ApiToken.objects.select_related("user").filter(key_hash=api_token_hash(key)).first()
        if token is None:
            if request is not None:
                bad_key_count(request)
            raise _refused("token_invalid", "The token is not valid.")
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
