"""The billing cycle: every day, the schedules whose next period has begun are billed, one invoice per account.

The monthly cycle comes due on the 1st, anniversaries on their day. A run splits the due accounts into chunks
that Celery workers take in parallel; each chunk is one transaction that locks its schedules (skipping rows
another worker holds), so an interrupted run is simply run again, and a rerun finds nothing left to bill. The
`days_billed_once` constraint on invoice lines is the last guard against billing a period twice.

The chunks are events of the outbox (`billing_run.chunk_requested`), written with the run in one transaction: a
broker that is down when the run starts delays the chunks (the events sweep delivers them) but never leaves the
run waiting for chunks nobody will bill. A chunk counts itself done in its own transaction, and the chunk that
completes the run finishes it.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import date

from django.db import transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from billing import engine
from billing.choices import InvoiceReason, RunStatus
from billing.models import BillingRun, BillingSchedule, Invoice, InvoiceLine, Pause, RateChange
from billing.selectors import config_for, terms_for
from billing.services import invoice_draft_build, invoice_line_row, lines_numbered
from cos import events
from cos.fsm import transition_apply

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500


def _due(as_of: date):
    """Schedules with a period begun and not yet billed, while billing runs (not past the deactivation). A service
    whose billing is blocked waits: its held periods are billed when the block is lifted (billing.changes)."""
    return (
        BillingSchedule.objects.filter(billed_until__lte=as_of)
        .filter(Q(ends_on__isnull=True) | Q(billed_until__lt=F("ends_on")))
        .exclude(subscription__service_instance__billing_blocked=True)
    )


def due_account_ids(as_of: date) -> list[int]:
    return list(_due(as_of).order_by("account_id").values_list("account_id", flat=True).distinct())


CHUNK_REQUESTED = "billing_run.chunk_requested"


def billing_run(*, as_of: date, chunk_size: int = CHUNK_SIZE, dispatch: Callable | None = None) -> BillingRun:
    """Start the run for `as_of`: chunks of accounts, each billed by `billing_chunk`. By default each chunk is an
    outbox event delivered to a worker after the run commits; `dispatch(run_id, account_ids, as_of)` bills them
    another way (in this process: run_billing, tests) once the run is committed."""
    account_ids = due_account_ids(as_of)
    chunks = [account_ids[i : i + chunk_size] for i in range(0, len(account_ids), chunk_size)]
    with transaction.atomic():
        run = BillingRun.objects.create(as_of=as_of, chunks=len(chunks))
        if not chunks:
            _finish(run)
            run.save()
        elif dispatch is None:
            for ids in chunks:
                events.publish(CHUNK_REQUESTED, run_id=run.pk, account_ids=ids, as_of=as_of.isoformat())
    if chunks and dispatch is not None:
        for ids in chunks:
            dispatch(run.pk, ids, as_of)
    run.refresh_from_db()
    return run


def billing_chunk_requested(*, run_id: int, account_ids: list[int], as_of: str) -> None:
    """`billing_run.chunk_requested`: bill one chunk of a run (once: the outbox records it in the same
    transaction)."""
    billing_chunk(run_id=run_id, account_ids=account_ids, as_of=date.fromisoformat(as_of))


def billing_chunk(*, run_id: int | None, account_ids: list[int], as_of: date) -> tuple[int, int]:
    """Bill the due periods of these accounts up to `as_of`: one invoice per account. Returns (invoices, lines)."""
    with transaction.atomic():
        schedules = list(
            _due(as_of)
            .filter(account_id__in=account_ids)
            .select_related("subscription__product", "subscription__marketplace", "account")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")
        )
        rates, pauses, names = defaultdict(list), defaultdict(list), defaultdict(list)
        for r in RateChange.objects.filter(schedule__in=schedules).values_list(
            "schedule_id", "effective_on", "monthly_amount", "product__name"
        ):
            rates[r[0]].append((r[1], r[2]))
            names[r[0]].append((r[1], r[3] or ""))
        for p in Pause.objects.filter(schedule__in=schedules).values_list("schedule_id", "starts_on", "ends_on"):
            pauses[p[0]].append((p[1], p[2]))
        by_account: dict[int, list] = defaultdict(list)
        for schedule in schedules:
            terms = terms_for(schedule, rates=rates[schedule.pk], pauses=pauses[schedule.pk], names=names[schedule.pk])
            lines, schedule.billed_until = engine.due_lines(terms, schedule.billed_until, as_of)
            by_account[schedule.account_id].append((schedule, lines))
        invoices, rows = _invoices(run_id, by_account)
        # One UPDATE per day billed until (a run moves nearly all schedules to the same day): bulk_update's CASE
        # per row took a quarter of the chunk's time.
        advanced = defaultdict(list)
        for schedule in schedules:
            advanced[schedule.billed_until].append(schedule.pk)
        for until, ids in advanced.items():
            BillingSchedule.objects.filter(pk__in=ids).update(billed_until=until)
        if run_id:
            _chunk_done(run_id, len(invoices), len(rows))
    return len(invoices), len(rows)


def _invoices(run_id, by_account) -> tuple[list[Invoice], list[InvoiceLine]]:
    invoices, pending = [], []
    configs = {}
    for items in by_account.values():
        lines = [line for _, schedule_lines in items for line in schedule_lines]
        if not lines:
            continue
        account = items[0][0].account
        marketplace = items[0][0].subscription.marketplace
        key = (marketplace.pk, account.provider_id)
        if key not in configs:
            configs[key] = config_for(*key)
        invoice, every = invoice_draft_build(
            account,
            lines,
            marketplace=marketplace,
            reason=InvoiceReason.CYCLE,
            review_minutes=configs[key].review_minutes,
            run_id=run_id,
        )
        invoices.append(invoice)
        pending.append(every)
    Invoice.objects.bulk_create(invoices, batch_size=1000)
    rows = [invoice_line_row(invoice, line) for invoice, every in zip(invoices, pending, strict=True) for line in every]
    InvoiceLine.objects.bulk_create(lines_numbered(rows), batch_size=2000)
    return invoices, rows


def _chunk_done(run_id: int, invoices: int, lines: int) -> None:
    """Count a chunk in the run, in the chunk's transaction (the run's row is locked until it commits, so chunks
    ending at once count one after the other); the last one finishes the run."""
    run = BillingRun.objects.select_for_update().get(pk=run_id)
    run.chunks_done += 1
    run.invoices += invoices
    run.lines += lines
    if run.chunks_done >= run.chunks and run.status == RunStatus.RUNNING:
        _finish(run)
    run.save()


def _finish(run: BillingRun) -> None:
    """The (locked) run is done: its drafts whose review window is over are finalized once it commits."""
    transition_apply(run, "finish", at=timezone.now(), reason=f"{run.chunks} chunk(s) billed")
    transaction.on_commit(_finalize_due_enqueue, robust=True)


def _finalize_due_enqueue() -> None:
    from billing.tasks import invoices_finalize_due_task

    try:
        invoices_finalize_due_task.delay()
    except Exception:  # noqa: BLE001 - Celery beat runs the same task every few minutes
        logger.warning("could not hand the finalization of due drafts to the broker; beat runs it", exc_info=True)


def preview(*, as_of: date, limit: int | None = None) -> list[tuple[BillingSchedule, list[engine.Line]]]:
    """What a run for `as_of` would bill, without writing anything (run_billing --dry-run)."""
    result = []
    schedules = (
        _due(as_of)
        .select_related("subscription__product", "subscription__marketplace", "account__customer")
        .prefetch_related(Prefetch("rate_changes", queryset=RateChange.objects.select_related("product")), "pauses")
        .order_by("pk")
    )
    for schedule in schedules[:limit] if limit else schedules:
        lines, _ = engine.due_lines(terms_for(schedule), schedule.billed_until, as_of)
        result.append((schedule, lines))
    return result
