"""The billing cycle: every day, the schedules whose next period has begun are billed, one invoice per account.

The monthly cycle comes due on the 1st, anniversaries on their day. A run splits the due accounts into chunks
that Celery workers take in parallel; each chunk is one transaction that locks its schedules (skipping rows
another worker holds), so an interrupted run is simply run again, and a rerun finds nothing left to bill. The
`days_billed_once` constraint on invoice lines is the last guard against billing a period twice.

The chunks are events of the outbox (`billing_run.chunk_requested`), written with the run in one transaction: a
broker that is down when the run starts delays the chunks (the events sweep delivers them) but never leaves the
run waiting for chunks nobody will bill. A chunk counts itself done in its own transaction, and the chunk that
completes the run finishes it.

At set-based speed: the due accounts are walked a chunk at a time by key (never the whole list in memory); a chunk
reads its schedules, terms and rates as rows, prices each period by interval (billing.engine), and writes its
invoices and lines as rows (COPY on PostgreSQL) with the values `invoice_draft_build` and `invoice_line_row` give
them, in a fixed number of statements whatever its size.
"""

import io
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from django.db import connection, models, transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from billing import engine
from billing.choices import InvoiceReason, RunStatus
from billing.models import BillingAccount, BillingRun, BillingSchedule, Invoice, InvoiceLine, Pause, RateChange
from billing.selectors import among, review_minutes_for, terms_for, terms_of
from billing.services import draft_amounts, line_repeats
from cos import events
from cos.fsm import transition_apply
from marketplace.models import Subscription

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000  # accounts: a chunk costs a fixed dozen statements, so fewer, larger chunks bill faster


def _open(as_of: date):
    """Schedules with a period begun and not yet billed, while billing runs (not past the deactivation)."""
    return BillingSchedule.objects.filter(billed_until__lte=as_of).filter(
        Q(ends_on__isnull=True) | Q(billed_until__lt=F("ends_on"))
    )


def _due(as_of: date):
    """The open schedules but those whose service's billing is blocked: they wait, and their held periods are
    billed when the block is lifted (billing.changes)."""
    return _open(as_of).exclude(subscription__service_instance__billing_blocked=True)


def _due_accounts(as_of: date):
    return _due(as_of).order_by("account_id").values_list("account_id", flat=True).distinct()


def due_account_ids(as_of: date) -> list[int]:
    return list(_due_accounts(as_of))


def due_account_chunks(as_of: date, chunk_size: int = CHUNK_SIZE) -> Iterator[list[int]]:
    """The due accounts in the order of their ids, `chunk_size` at a time: each chunk is one query for the next
    accounts after the last one of the chunk before (never the whole list in memory)."""
    last = None
    while True:
        accounts = _due_accounts(as_of) if last is None else _due_accounts(as_of).filter(account_id__gt=last)
        ids = list(accounts[:chunk_size])
        if ids:
            yield ids
        if len(ids) < chunk_size:
            return
        last = ids[-1]


CHUNK_REQUESTED = "billing_run.chunk_requested"


def billing_run(*, as_of: date, chunk_size: int = CHUNK_SIZE, dispatch: Callable | None = None) -> BillingRun:
    """Start the run for `as_of`: chunks of accounts, each billed by `billing_chunk`. By default each chunk is an
    outbox event delivered to a worker after the run commits; `dispatch(run_id, account_ids, as_of)` bills them
    another way (in this process: run_billing, tests) once the run is committed.

    The due accounts are walked a chunk at a time; the run keeps only each chunk's first and last account (its
    key range), from which a dispatched chunk's accounts are read again when its turn comes."""
    ranges = []
    with transaction.atomic():
        run = BillingRun.objects.create(as_of=as_of)
        for ids in due_account_chunks(as_of, chunk_size):
            ranges.append((ids[0], ids[-1]))
            if dispatch is None:
                events.publish(CHUNK_REQUESTED, run_id=run.pk, account_ids=ids, as_of=as_of.isoformat())
        run.chunks = len(ranges)
        if not ranges:
            _finish(run)
        run.save()
    for first, last in ranges if dispatch is not None else ():
        dispatch(run.pk, list(_due_accounts(as_of).filter(account_id__gte=first, account_id__lte=last)), as_of)
    run.refresh_from_db()
    return run


def billing_chunk_requested(*, run_id: int, account_ids: list[int], as_of: str) -> None:
    """`billing_run.chunk_requested`: bill one chunk of a run (once: the outbox records it in the same
    transaction)."""
    billing_chunk(run_id=run_id, account_ids=account_ids, as_of=date.fromisoformat(as_of))


def billing_chunk(*, run_id: int | None, account_ids: list[int], as_of: date) -> tuple[int, int]:
    """Bill the due periods of these accounts up to `as_of`: one invoice per account. Returns (invoices, lines).

    A fixed number of statements whatever the chunk's size, each reading or writing rows (no model instances): the
    schedules (locked), their subscriptions, accounts, rates and pauses, the review windows, the lines already on
    the books; then the invoices, their lines and the schedules' new `billed_until`, each in one statement. Each
    read is of one table by its keys (or joins only small ones), so it costs the same at any size of the tables."""
    with transaction.atomic():
        schedules = list(
            _open(as_of)
            .filter(among("account_id", account_ids))
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", "account_id", "subscription_id", "cycle", "activated_on", "ends_on", "billed_until")
        )
        subscriptions = {
            row[0]: row[1:]
            for row in Subscription.objects.filter(among("id", (schedule[2] for schedule in schedules))).values_list(
                "pk",
                "start_fee",
                "promotion_kind",
                "promotion_value",
                "promotion_periods",
                "product__name",
                "marketplace_id",
                "marketplace__tax_rate",
                "marketplace__prices_include_tax",
                "service_instance__billing_blocked",
            )
        }
        # a service whose billing is blocked waits (as in `_due`): its held periods are billed when it is lifted
        schedules = [schedule for schedule in schedules if not subscriptions[schedule[2]][-1]]
        accounts = {
            pk: (provider_id, currency)
            for pk, provider_id, currency in BillingAccount.objects.filter(
                among("id", {schedule[1] for schedule in schedules})
            ).values_list("pk", "provider_id", "currency")
        }
        ids = [schedule[0] for schedule in schedules]
        rates, pauses, names = defaultdict(list), defaultdict(list), defaultdict(list)
        for schedule_id, effective_on, amount, name in RateChange.objects.filter(among("schedule_id", ids)).values_list(
            "schedule_id", "effective_on", "monthly_amount", "product__name"
        ):
            rates[schedule_id].append((effective_on, amount))
            names[schedule_id].append((effective_on, name or ""))
        for schedule_id, starts_on, ends_on in Pause.objects.filter(among("schedule_id", ids)).values_list(
            "schedule_id", "starts_on", "ends_on"
        ):
            pauses[schedule_id].append((starts_on, ends_on))
        by_account: dict[int, list[engine.Line]] = {}
        # account -> (provider, currency, marketplace, tax rate, prices include tax) of its first schedule
        payers: dict[int, tuple] = {}
        advanced = []
        for pk, account_id, subscription_id, cycle, activated_on, ends_on, billed_until in schedules:
            (start_fee, promotion_kind, promotion_value, promotion_periods, product_name, marketplace_id, tax_rate,
             included, _) = subscriptions[subscription_id]  # fmt: skip
            terms = terms_of(
                subscription_id=subscription_id,
                cycle=cycle,
                activated_on=activated_on,
                ends_on=ends_on,
                rates=rates[pk],
                pauses=pauses[pk],
                names=names[pk],
                start_fee=start_fee,
                promotion_kind=promotion_kind,
                promotion_value=promotion_value,
                promotion_periods=promotion_periods,
                description=product_name,
            )
            lines, until = engine.due_lines(terms, billed_until, as_of)
            by_account.setdefault(account_id, []).extend(lines)
            payers.setdefault(account_id, (*accounts[account_id], marketplace_id, tax_rate, included))
            advanced.append((pk, until))
        invoices, lines = _invoices_write(run_id, by_account, payers)
        _billed_until_write(advanced)
        if run_id:
            if connection.vendor == "postgresql":
                # The rows' foreign keys are checked now rather than at commit, while the run's row (locked next,
                # until the commit) is not yet held: chunks billed at once wait for each other only briefly.
                connection.check_constraints()
            _chunk_done(run_id, invoices, lines)
    return invoices, lines


INVOICE_ROW = (
    "account_id",
    "issuer_id",
    "marketplace_id",
    "kind",
    "reason",
    "currency",
    "tax_rate",
    "prices_include_tax",
    "subtotal",
    "tax",
    "total",
    "finalize_after",
    "run_id",
)
LINE_ROW = (
    "invoice_id",
    "subscription_id",
    "kind",
    "description",
    "amount",
    "tax",
    "period_start",
    "period_end",
    "rate",
    "days",
    "period_days",
    "coverage",
    "repeat",
    "refers_to_id",
)


def _invoices_write(run_id: int | None, by_account: dict, payers: dict) -> tuple[int, int]:
    """One draft per account with lines, as `invoice_draft_build` and `invoice_line_row` make them (the same
    columns, totals, tax line, review window and line numbering), written as rows: the invoices in one statement
    that returns their ids, then every line in one more. Returns (invoices, lines)."""
    billed = [(account_id, lines) for account_id, lines in by_account.items() if lines]
    if not billed:
        return 0, 0
    now = timezone.now()
    field = Invoice._meta.get_field("finalize_after")
    finalize_after = {  # as the backend stores it (SQLite: naive UTC text), one value per review window
        key: field.get_db_prep_save(now + timedelta(minutes=minutes), connection)
        for key, minutes in review_minutes_for({(payers[a][2], payers[a][0]) for a, _ in billed}).items()
    }
    invoices, every = [], []
    for account_id, lines in billed:
        provider_id, currency, marketplace_id, tax_rate, included = payers[account_id]
        amounts = draft_amounts(lines, tax_rate, prices_include_tax=included)
        invoices.append(
            (account_id, provider_id, marketplace_id, amounts.kind, InvoiceReason.CYCLE, currency, tax_rate, included,
             amounts.subtotal, amounts.tax, amounts.total, finalize_after[marketplace_id, provider_id], run_id)
        )  # fmt: skip
        every.append(amounts.lines)
    invoice_ids = _rows_insert(Invoice, INVOICE_ROW, invoices, now=now, returning=True)
    flat = [line for lines in every for line in lines]
    repeats = iter(line_repeats(flat))
    rows = [
        (invoice_id, line.subscription_id, line.kind, line.description[:300], line.amount, line.tax,
         line.period_start, line.period_end, line.rate, line.days, line.period_days, line.coverage,
         next(repeats) or 0, line.refers_to)
        for invoice_id, lines in zip(invoice_ids, every, strict=True)
        for line in lines
    ]  # fmt: skip
    _rows_insert(InvoiceLine, LINE_ROW, rows, now=now)
    return len(invoices), len(rows)


def _billed_until_write(advanced: list[tuple[int, date]]) -> None:
    """Each schedule's new `billed_until`, all in one statement (as QuerySet.update, `updated_at` is left alone)."""
    table = connection.ops.quote_name(BillingSchedule._meta.db_table)
    for batch in _batches(advanced, 2):
        values = ", ".join(["(%s, %s)"] * len(batch))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET billed_until = v.column2 FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
                [value for row in batch for value in row],
            )


# --- rows written without model instances ------------------------------------------------------


def _rows_insert(model, given: tuple[str, ...], rows: list[tuple], *, now: datetime, returning: bool = False):
    """Insert `rows` (values of the fields `given`, by attname) into the model's table; every other column gets what
    the ORM would write: its field's default, `now` for the automatic timestamps. With `returning`, the new ids in
    the order of the rows. On PostgreSQL the rows are copied (COPY FROM STDIN), with ids taken from the table's
    sequence first when they are wanted; elsewhere inserted (with RETURNING for the ids)."""
    if not rows:
        return []
    columns, defaults = _columns(model, given, now)
    table = connection.ops.quote_name(model._meta.db_table)
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids = []
            if returning:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [table, pk, len(rows)],
                )
                ids = [row[0] for row in cursor.fetchall()]
                columns, rows = [pk, *columns], [(id_, *row) for id_, row in zip(ids, rows, strict=True)]
            names = ", ".join(connection.ops.quote_name(column) for column in columns)
            cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", _copy_data(model, columns, rows, defaults))
            return ids
        names = ", ".join(connection.ops.quote_name(column) for column in columns)
        placeholders = f"({', '.join(['%s'] * len(columns))})"
        if not returning:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES {placeholders}", [row + defaults for row in rows])
            return []
        ids = []
        for batch in _batches(rows, len(columns)):
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([placeholders] * len(batch))} RETURNING {pk}",
                [value for row in batch for value in row + defaults],
            )
            ids += [row[0] for row in cursor.fetchall()]
    return ids


def _columns(model, given: tuple[str, ...], now: datetime) -> tuple[list[str], tuple]:
    """The table's columns, those of the fields `given` first, and the values of the others ready for the database."""
    fields = {field.attname: field for field in model._meta.concrete_fields if not field.primary_key}
    columns = [fields[attname].column for attname in given]
    defaults = []
    for attname, field in fields.items():
        if attname in given:
            continue
        value = (
            now if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) else field.get_default()
        )
        columns.append(field.column)
        defaults.append(field.get_db_prep_save(value, connection))
    return columns, tuple(defaults)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_data(model, columns: list[str], rows: list[tuple], defaults: tuple) -> io.StringIO:
    """The rows, then the defaults, in COPY's text format: NULL as \\N, text escaped, everything else as `str()`
    writes it (numbers, ISO dates and moments with their offset, True/False), which PostgreSQL reads back as is."""
    fields = {field.column: field for field in model._meta.concrete_fields}
    text = [i for i, column in enumerate(columns[: len(columns) - len(defaults)]) if _is_text(fields[column])]
    if not any(_COPY_SPECIAL.search(row[i]) for row in rows for i in text if row[i] is not None):
        text = []  # the usual case: no text to escape, so none looked at row by row
    tail = "".join("\t" + _copy_text(value) for value in defaults) + "\n"
    lines = []
    for row in rows:
        if text:
            row = [
                row[i].translate(_COPY_ESCAPES) if i in text and row[i] is not None else row[i] for i in range(len(row))
            ]
        lines.append("\t".join(["\\N" if value is None else str(value) for value in row]) + tail)
    return io.StringIO("".join(lines))


def _is_text(field) -> bool:
    return isinstance(field, models.CharField | models.TextField)


def _copy_text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def _batches(rows: list, per_row: int):
    """`rows` in as few statements as the backend's limit on query parameters allows (SQLite's own limit, not
    the 999 Django assumes for it)."""
    limit = connection.features.max_query_params
    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    size = max(limit // per_row, 1) if limit else max(len(rows), 1)
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _chunk_done(run_id: int, invoices: int, lines: int) -> None:
    """Count a chunk in the run, in the chunk's transaction (the run's row is locked until it commits, so chunks
    ending at once count one after the other); the last one finishes the run. The lock is the one an update of the
    row takes (no key update): it does not wait for, nor deadlock with, the other chunks' invoices, whose foreign
    keys to the run share its key."""
    run = BillingRun.objects.select_for_update(no_key=True).get(pk=run_id)
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
