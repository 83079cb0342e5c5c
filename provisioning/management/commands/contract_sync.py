"""Run the contract synchronization once (what Celery beat runs every CONTRACT_SYNC_SECONDS)."""

from django.core.management.base import BaseCommand

from provisioning.sync import contract_sync


class Command(BaseCommand):
    help = "Compare every service with the network and the ledger with billing; findings go to Contract exceptions."

    def handle(self, *args, **options):
        result = contract_sync()
        found = ", ".join(f"{count} {kind}" for kind, count in sorted(result.found.items())) or "no differences"
        self.stdout.write(f"{result.onts_read} ONT(s) read, {len(result.unreachable)} unreachable: {found}")
        if result.unreachable:
            self.stdout.write("unreachable: " + ", ".join(result.unreachable))
