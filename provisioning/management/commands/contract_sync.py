"""Run the contract synchronization once (what Celery beat, or run_periodic, runs every CONTRACT_SYNC_SECONDS)."""

from django.core.management.base import BaseCommand

from provisioning.choices import ExceptionKind, ExceptionStatus
from provisioning.models import ContractException
from provisioning.sync import contract_sync


class Command(BaseCommand):
    help = "Compare every service with the network and the ledger with billing; findings go to Contract exceptions."

    def handle(self, *args, **options):
        result = contract_sync()
        self.stdout.write(f"{result.onts_read} ONT(s) read, {len(result.unreachable)} unreachable.")
        if result.unreachable:
            self.stdout.write("Unreachable (not compared): " + ", ".join(result.unreachable))
        if not result.found:
            self.stdout.write("No differences found.")
        else:
            self.stdout.write("Differences found (each one open exception, refreshed by every run that sees it):")
            for kind, count in sorted(result.found.items()):
                self.stdout.write(f"  {count:>4}  {ExceptionKind(kind).label} ({kind})")
        still_open = ContractException.objects.filter(status=ExceptionStatus.OPEN).count()
        self.stdout.write(
            f"{still_open} contract exception(s) open: /admin/provisioning/contractexception/?status__exact=open"
        )
