"""Give a service provider's API user a token (the operator hands the key over; it is printed once, never kept)."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cos.api.providers import provider_of
from cos.models import ApiToken
from cos.services import api_token_issue, api_token_rotate


class Command(BaseCommand):
    help = (
        "Issue an API token for a service provider's user and print its key, once: only its hash is kept "
        "(--rotate: revoke the user's tokens and issue a new one)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="default", help="What the token is for (default: 'default').")
        parser.add_argument("--rotate", action="store_true", help="Revoke the user's tokens and issue a new one.")
        parser.add_argument("--expires-in-days", type=int, default=None, help="Days until the token expires.")

    def handle(self, *args, username: str, name: str, rotate: bool, expires_in_days: int | None, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        provider = provider_of(user)
        if provider is None:
            raise CommandError(f"{username!r} belongs to no service provider: give them a membership first.")
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            if rotate:
                token, key = api_token_rotate(user=user, name=name, expires_at=expires_at)
            else:
                held = ApiToken.objects.filter(user=user, name=name, revoked_at__isnull=True).first()
                if held is not None:
                    raise CommandError(
                        f"{username} already has an active token {name!r} (key {held.prefix}...): its key is not kept, "
                        "so it cannot be printed again. --rotate replaces it, --name issues another."
                    )
                token, key = api_token_issue(user=user, name=name, expires_at=expires_at)
        except ValidationError as refused:
            raise CommandError("; ".join(refused.messages)) from None
        expiry = f", expires {token.expires_at:%Y-%m-%d %H:%M %Z}" if token.expires_at else ""
        self.stderr.write(f"New token {token.name!r} of {username} ({provider.name}){expiry}.")
        self.stderr.write("Copy the key now: it is not shown again.")
        self.stdout.write(key)
