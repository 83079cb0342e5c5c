"""Give a service provider's API user its token (the operator hands it over)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from cos.api.providers import provider_of


class Command(BaseCommand):
    help = "Print the API token of a service provider's user, creating it if needed (--rotate: a new one)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="Replace an existing token with a new one.")

    def handle(self, *args, username: str, rotate: bool, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        provider = provider_of(user)
        if provider is None:
            raise CommandError(f"{username!r} belongs to no service provider: give them a membership first.")
        if rotate:
            Token.objects.filter(user=user).delete()
        token, created = Token.objects.get_or_create(user=user)
        self.stderr.write(f"{'New' if created else 'Existing'} token of {username} ({provider.name}):")
        self.stdout.write(token.key)
