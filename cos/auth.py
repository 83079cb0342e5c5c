"""Logging in with what people type: the username or the e-mail address, in any letter case (a phone capitalises
the first letter), through one backend for the portal, the field views and the admin."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


def login_name(request, credentials: dict) -> str:
    """The name a login attempt is counted under for the lockout (AXES_USERNAME_CALLABLE): case folded, so
    "Anna@…" and "anna@…" share one count."""
    name = (credentials or {}).get("username") or (request.POST.get("username") if request is not None else "")
    return (name or "").strip().casefold()


class UsernameOrEmailBackend(ModelBackend):
    """A user by username (case-insensitive; an exact match first), else by e-mail address when exactly one
    active user has it. The password check, `is_active` and permissions are ModelBackend's."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if not username or password is None:
            return None
        user = self._user_for(username.strip())
        if user is None:
            get_user_model()().set_password(password)  # the same time as a real check: no user enumeration by timing
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    @staticmethod
    def _user_for(name: str):
        users = get_user_model()._default_manager
        by_name = list(users.filter(username__iexact=name)[:2])  # served by the auth_user_username_upper index
        exact = [user for user in by_name if user.username == name]
        if exact or len(by_name) == 1:
            return (exact or by_name)[0]
        if by_name or "@" not in name:
            return None  # two logins differing only in case, and neither typed exactly: ambiguous
        by_email = list(users.filter(email__iexact=name, is_active=True)[:2])
        return by_email[0] if len(by_email) == 1 else None
