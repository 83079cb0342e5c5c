"""Run the billing cycle for a day by hand: see what it would bill (--dry-run), or bill it with a progress bar."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from billing import services
from billing.choices import InvoiceStatus
from billing.models import BillingRun, Invoice
from billing.runs import CHUNK_SIZE, billing_chunk, billing_run, preview
from marketplace.models import Marketplace


def _day(value: str | None) -> date:
    if value is None:
        return timezone.localdate()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be a day written YYYY-MM-DD (e.g. 2025-03-01), not '{value}'.") from None


class Command(BaseCommand):
    help = "Bill every subscription whose period has begun by --date (default today); --dry-run only shows it."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="The day to bill up to, YYYY-MM-DD (default: today).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would be billed; write nothing.")
        parser.add_argument(
            "--chunk-size", type=int, default=CHUNK_SIZE, help=f"Accounts per chunk (default {CHUNK_SIZE})."
        )

    def handle(self, *args, **options):
        as_of = _day(options["date"])
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        if options["dry_run"]:
            self._preview(as_of)
        else:
            self._run(as_of, options["chunk_size"])

    def _preview(self, as_of: date) -> None:
        """Per account, the lines a run would bill and their total with tax; nothing is written."""
        plan = preview(as_of=as_of)
        marketplaces = Marketplace.objects.in_bulk({schedule.subscription.marketplace_id for schedule, _ in plan})
        accounts: dict[int, list] = defaultdict(list)
        for schedule, lines in plan:
            if lines:
                accounts[schedule.account_id].append((schedule, lines))
        totals: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
        line_count = 0
        self.stdout.write(f"Dry run for {as_of}: nothing is written.")
        for items in accounts.values():
            account = items[0][0].account
            # The run bills an account's lines on one invoice, taxed as its first subscription's marketplace says.
            marketplace = marketplaces[items[0][0].subscription.marketplace_id]
            lines = [line for _, schedule_lines in items for line in schedule_lines]
            amounts = services.draft_amounts(
                lines, marketplace.tax_rate, prices_include_tax=marketplace.prices_include_tax
            )
            self.stdout.write(f"\n{account.customer} (account {account.pk}, {account.currency})")
            for line in amounts.lines:
                shown = line.amount + line.tax  # what the invoice shows: gross where prices include tax
                self.stdout.write(f"  {line.description:<70} {shown:>12}")
            self.stdout.write(f"  {'Total':<70} {amounts.total:>12}")
            totals[account.currency] += amounts.total
            line_count += len(amounts.lines)
        summary = ", ".join(f"{amount} {currency}" for currency, amount in sorted(totals.items())) or "nothing"
        self.stdout.write(f"\nWould bill {len(accounts)} invoice(s) with {line_count} line(s) for {as_of}: {summary}.")

    def _run(self, as_of: date, chunk_size: int) -> None:
        """Bill in-process, chunk by chunk, then finalize the drafts whose review window is over."""
        counts = {"invoices": 0, "lines": 0}
        bar = None

        def dispatch(run_id: int, account_ids: list[int], day: date) -> None:
            nonlocal bar
            if bar is None:
                chunks = BillingRun.objects.values_list("chunks", flat=True).get(pk=run_id)
                bar = tqdm(total=chunks, unit="chunk", desc=f"Billing {day}", file=self.stderr._out, disable=None)
            invoices, lines = billing_chunk(run_id=run_id, account_ids=account_ids, as_of=day)
            counts["invoices"] += invoices
            counts["lines"] += lines
            bar.update(1)

        try:
            run = billing_run(as_of=as_of, chunk_size=chunk_size, dispatch=dispatch)
        except Exception as exc:
            raise CommandError(
                f"Billing for {as_of} stopped: {exc}. What was billed stays billed; run it again to bill the rest."
            ) from exc
        finally:
            if bar is not None:
                bar.close()
        services.invoices_finalize_due()
        # Counted from the run's invoices: the end of the run may have finalized them already (Celery).
        in_review = Invoice.objects.filter(run=run, status=InvoiceStatus.DRAFT).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Billing run {run.pk} for {as_of}: {counts['invoices']} invoice(s) with {counts['lines']} line(s) "
                f"in {run.chunks} chunk(s); {counts['invoices'] - in_review} issued, {in_review} in review."
            )
        )
