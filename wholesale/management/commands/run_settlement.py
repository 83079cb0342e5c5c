"""Settle a month by hand: each provider's draft statement from the ledger (--dry-run: show it, write nothing)."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cos.choices import OrganizationKind
from cos.errors import ApplicationError
from cos.models import Organization
from wholesale.settlement import month_of, providers_to_settle, settlement_run
from wholesale.variance import variance_check


def _provider(value: str) -> Organization:
    found = Organization.objects.filter(kind=OrganizationKind.SERVICE_PROVIDER)
    found = found.filter(pk=int(value)) if value.isdigit() else found.filter(slug=value)
    provider = found.first()
    if provider is None:
        raise CommandError(f"There is no service provider {value!r} (give its slug or id).")
    return provider


class Command(BaseCommand):
    help = "Build the month's draft settlement statements of every provider (or one) from the ledger."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="The month, YYYY-MM (e.g. 2026-11).")
        parser.add_argument("--provider", help="Only this provider (its slug or id).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would be charged; write nothing.")

    def handle(self, *args, **options):
        try:
            month = month_of(options["period"])
        except ApplicationError as error:
            raise CommandError(error.message) from None
        provider = _provider(options["provider"]) if options["provider"] else None
        bar = tqdm(total=len(providers_to_settle(provider)), unit="provider", disable=options["verbosity"] < 1)
        try:
            result = settlement_run(
                month=month.start, provider=provider, dry_run=options["dry_run"], progress=lambda _: bar.update()
            )
            if not options["dry_run"]:
                variance_check(month=month.start, provider=provider)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        finally:
            bar.close()
        head = "Dry run, nothing written" if options["dry_run"] else "Settled"
        self.stdout.write(f"{head}: {month.start:%Y-%m}, {result.lines} line(s).")
        for statement in result.statements:
            shown = statement.number or "draft"
            payout = f", payout {statement.payout}" if statement.payout is not None else ""
            self.stdout.write(
                f"  {statement.provider.name:<40} {shown:<16} {statement.subtotal:>14} + tax {statement.tax:>12} "
                f"= {statement.total:>14} {statement.currency}{payout}"
            )
        if not result.statements:
            self.stdout.write("  No provider had anything to settle.")
