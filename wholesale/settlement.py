"""Month-end settlement: each provider's statement from the ledger, set-based in SQL.

A ledger period's days in the month are the local days (in its marketplace's time zone) from its start's day to
its end's day, the end's day not included: the retail engine's rule (the activation day is billed, the
deactivation day is not), so a day is never on two periods of a service. Each run of days at one card is one
line, priced by the retail engine's part_of (billing.engine.part_of_cents_sql: the same rounding, in integers).

A run (re)builds the month's draft statements and never touches an issued one: re-running a month whose
statements are issued adds nothing, and re-running a draft month gives the same lines (unique constraints).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from billing.engine import money, part_of_cents_sql
from billing.selectors import collected_for_provider
from cos.choices import OrganizationKind
from cos.errors import ApplicationError
from cos.models import Organization
from cos.periods import MONTHLY, Period, period_containing
from marketplace.choices import SettlementModel
from marketplace.models import Participation
from wholesale.choices import DisputeStatus, LineKind, StatementStatus
from wholesale.models import RateSlice, SettlementRun, Statement, StatementDispute, StatementLine
from wholesale.rates import slices_make

# A day in any time zone lies within this much of the UTC day: a coarse bound the indexes can use.
_ZONE_SLACK = timedelta(hours=15)


def month_of(value: str | date) -> Period:
    """The calendar month YYYY-MM (or holding a day), as a Period."""
    if isinstance(value, str):
        try:
            year, month = (int(part) for part in value.split("-"))
            day = date(year, month, 1)
        except ValueError:
            raise ApplicationError(
                f"A month is written YYYY-MM (e.g. 2026-11), not {value!r}.", code="invalid_month"
            ) from None
    else:
        day = value
    return period_containing(MONTHLY, day, day)


def network_operator() -> Organization:
    operator = Organization.objects.filter(kind=OrganizationKind.NETWORK_OPERATOR).order_by("pk").first()
    if operator is None:
        raise ApplicationError("No network operator is set up.", code="no_operator")
    return operator


class _Dialect:
    """The few SQL spellings that differ between PostgreSQL and SQLite."""

    def __init__(self, vendor: str):
        self.pg = vendor == "postgresql"

    def local_day(self, column: str, zone: str) -> str:
        if self.pg:
            return f"(({column}) AT TIME ZONE {zone})::date"
        return f"django_datetime_cast_date({column}, {zone}, 'UTC')"

    def greatest(self, *args: str) -> str:
        return f"{'GREATEST' if self.pg else 'MAX'}({', '.join(args)})"

    def least(self, *args: str) -> str:
        return f"{'LEAST' if self.pg else 'MIN'}({', '.join(args)})"

    def days(self, start: str, end: str) -> str:
        if self.pg:
            return f"({end} - {start})"
        return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"

    def day(self, placeholder: str) -> str:
        return f"CAST({placeholder} AS date)" if self.pg else placeholder


def _spans_sql(d: _Dialect) -> str:
    """Each ledger period of a provider overlapping the month, cut to the month, in local days."""
    zone = "m.time_zone"
    return f"""
        SELECT p.id AS period_id, p.service_id, p.subscription_id, p.address_id, p.provider_id, p.profile,
               CASE WHEN p.cause = 'suspend' THEN 'suspended' ELSE 'access' END AS kind,
               sub.marketplace_id, sub.category, a.area_id,
               COALESCE(pa.settlement_model, 'wholesale') AS model,
               {d.local_day("p.started_at", zone)} AS start_day,
               {d.greatest(d.local_day("p.started_at", zone), d.day("%(start)s"))} AS span_from,
               CASE WHEN p.ended_at IS NULL THEN {d.day("%(end)s")}
                    ELSE {d.least(d.local_day("p.ended_at", zone), d.day("%(end)s"))} END AS span_to
        FROM provisioning_serviceperiod p
        JOIN marketplace_subscription sub ON sub.id = p.subscription_id
        JOIN marketplace_marketplace m ON m.id = sub.marketplace_id
        JOIN cos_addressobject a ON a.id = p.address_id
        LEFT JOIN marketplace_participation pa ON pa.marketplace_id = sub.marketplace_id
             AND pa.provider_id = p.provider_id
        WHERE p.provider_id = %(provider)s AND p.started_at < %(end_utc)s
          AND (p.ended_at IS NULL OR p.ended_at > %(start_utc)s)
    """


def _inputs_sql(d: _Dialect, spans_filter: str = "", *, statements: bool = True) -> str:
    """The WITH clause of a provider's lines (placed after an INSERT's column list: Python's sqlite3 counts no rows
    for a statement that starts with WITH). `s`: the provider's spans, each computed once from its periods; `sc`:
    the run's slices of the provider, with their card's draft statement (`statements`; else every slice, with
    none); `own`: the areas of each marketplace that have slices of their own. Materialized apart on PostgreSQL:
    joined inline, the planner took a run's new slices for a row or two and read every subscription again for each
    slice."""
    materialized = "MATERIALIZED " if d.pg else ""
    return f"""
        WITH s AS {materialized}({_spans_sql(d)} {spans_filter}),
        sc AS {materialized}(
            SELECT sl.marketplace_id, COALESCE(sl.area_id, 0) AS area_key, sl.first_day, sl.until, sl.card_id,
                   {"st.id" if statements else "NULL"} AS statement_id
            FROM wholesale_rateslice sl
            {_STATEMENT_JOIN if statements else ""}
            WHERE sl.run_id = %(run)s AND sl.provider_id = %(provider)s
        ),
        own AS {materialized}(
            SELECT DISTINCT marketplace_id, area_id FROM wholesale_rateslice
            WHERE run_id = %(run)s AND provider_id = %(provider)s AND area_id IS NOT NULL
        )
    """


_STATEMENT_JOIN = """
    JOIN wholesale_ratecard c ON c.id = sl.card_id
    JOIN wholesale_statement st ON st.operator_id = c.operator_id AND st.provider_id = sl.provider_id
         AND st.currency = c.currency AND st.month = %(month)s AND st.status = 'draft'
"""

# The slices in force for a span's scope: its area's own where it has some, else the scope's general ones.
_SLICE_JOIN = """
    FROM s
    LEFT JOIN own ON own.marketplace_id = s.marketplace_id AND own.area_id = s.area_id
    JOIN sc ON sc.marketplace_id = s.marketplace_id AND sc.area_key = COALESCE(own.area_id, 0)
"""

_RATE_JOINS = """
    LEFT JOIN wholesale_rate ex ON ex.card_id = pc.card_id AND ex.category = pc.category AND ex.profile = pc.profile
    LEFT JOIN wholesale_rate an ON an.card_id = pc.card_id AND an.category = pc.category AND an.profile = ''
"""

_LINE_COLUMNS = (
    "statement_id, kind, period_id, service_id, subscription_id, address_id, marketplace_id, category, profile, "
    "card_id, rate_id, first_day, until, days, month_days, unit_rate, amount, description"
)


def _rate_of(column: str) -> str:
    return f"CASE WHEN ex.id IS NOT NULL THEN ex.{column} ELSE an.{column} END"


def day_lines_sql(d: _Dialect) -> str:
    """INSERT of the month's access and suspended lines of one provider: one per period and card run."""
    unit = (
        f"CASE WHEN pc.kind = 'suspended' THEN "
        f"(CASE WHEN pc.model = 'access_only' THEN 0 ELSE {_rate_of('suspended_rate')} END) "
        f"ELSE {_rate_of('monthly_rate')} END"
    )
    days = d.days("pc.day_from", "pc.day_to")
    cents = part_of_cents_sql(unit, days, "%(month_days)s")
    return f"""
        INSERT INTO wholesale_statementline ({_LINE_COLUMNS})
        {_inputs_sql(d)}
        SELECT pc.statement_id, pc.kind, pc.period_id, pc.service_id, pc.subscription_id, pc.address_id,
               pc.marketplace_id, pc.category, pc.profile, pc.card_id, COALESCE(ex.id, an.id), pc.day_from,
               pc.day_to, {days}, %(month_days)s, {unit}, {cents} / 100.0, ''
        FROM (
            SELECT s.*, sc.card_id, sc.statement_id, {d.greatest("s.span_from", "sc.first_day")} AS day_from,
                   {d.least("s.span_to", "sc.until")} AS day_to
            {_SLICE_JOIN}
             AND sc.first_day < s.span_to AND sc.until > s.span_from
            WHERE s.span_from < s.span_to
        ) pc
        {_RATE_JOINS}
        WHERE COALESCE(ex.id, an.id) IS NOT NULL
        ON CONFLICT DO NOTHING
    """


def expected_by_service_sql(d: _Dialect) -> str:
    """Per service of one provider: the days the ledger has it live in the month, and what those days cost at the
    cards in force (in cents), as day_lines_sql would charge them on a fresh statement (variance's 'expected')."""
    unit = (
        f"CASE WHEN pc.kind = 'suspended' THEN "
        f"(CASE WHEN pc.model = 'access_only' THEN 0 ELSE {_rate_of('suspended_rate')} END) "
        f"ELSE {_rate_of('monthly_rate')} END"
    )
    days = d.days("pc.day_from", "pc.day_to")
    cents = part_of_cents_sql(unit, days, "%(month_days)s")
    return f"""
        {_inputs_sql(d, statements=False)}
        SELECT pc.service_id, pc.subscription_id, SUM({days}),
               SUM(CASE WHEN COALESCE(ex.id, an.id) IS NULL THEN 0 ELSE {cents} END),
               SUM(CASE WHEN COALESCE(ex.id, an.id) IS NULL THEN 0 ELSE {days} END)
        FROM (
            SELECT s.*, sc.card_id, {d.greatest("s.span_from", "sc.first_day")} AS day_from,
                   {d.least("s.span_to", "sc.until")} AS day_to
            {_SLICE_JOIN}
             AND sc.first_day < s.span_to AND sc.until > s.span_from
            WHERE s.span_from < s.span_to
        ) pc
        {_RATE_JOINS}
        GROUP BY pc.service_id, pc.subscription_id
    """


def network_days_sql(d: _Dialect) -> str:
    """Per service of one provider: the days the ledger has it live in the month, whether a card covers them."""
    return f"""
        SELECT s.service_id, s.subscription_id, SUM({d.days("s.span_from", "s.span_to")})
        FROM ({_spans_sql(d)}) s WHERE s.span_from < s.span_to
        GROUP BY s.service_id, s.subscription_id
    """


def activation_lines_sql(d: _Dialect) -> str:
    """INSERT of the one-off fee of each period that began an activation (or a switch to the provider) in the
    month, at the card in force that day; none where the provider settles network access only."""
    fee = _rate_of("activation_fee")
    return f"""
        INSERT INTO wholesale_statementline ({_LINE_COLUMNS})
        {_inputs_sql(d, "AND p.cause IN ('activate', 'switch')")}
        SELECT pc.statement_id, 'activation', pc.period_id, pc.service_id, pc.subscription_id, pc.address_id,
               pc.marketplace_id, pc.category, pc.profile, pc.card_id, COALESCE(ex.id, an.id), pc.span_from,
               NULL, 0, %(month_days)s, {fee}, {fee}, ''
        FROM (
            SELECT s.*, sc.card_id, sc.statement_id
            {_SLICE_JOIN}
             AND sc.first_day <= s.span_from AND sc.until > s.span_from
            WHERE s.model <> 'access_only' AND s.span_from = s.start_day AND s.span_from < s.span_to
        ) pc
        {_RATE_JOINS}
        WHERE COALESCE(ex.id, an.id) IS NOT NULL AND {fee} > 0
        ON CONFLICT DO NOTHING
    """


@dataclass
class RunResult:
    month: Period
    run: SettlementRun | None = None
    statements: list[Statement] = field(default_factory=list)
    lines: int = 0
    dry_run: bool = False

    @property
    def totals(self) -> dict[str, Decimal]:
        found: dict[str, Decimal] = {}
        for statement in self.statements:
            found[statement.currency] = found.get(statement.currency, Decimal("0.00")) + statement.total
        return found


class _DryRun(Exception):
    def __init__(self, result: RunResult):
        self.result = result


def _utc(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo("UTC"))


def settlement_run(
    *,
    month: str | date,
    operator: Organization | None = None,
    provider: Organization | None = None,
    dry_run: bool = False,
    progress: Callable[[Organization], None] | None = None,
) -> RunResult:
    """Build the month's draft statements of every provider (or one) from the ledger; issued ones stay as they
    are. `dry_run` computes the same and writes nothing. `progress` is told of each provider done."""
    period = month_of(month)
    operator = operator or network_operator()
    try:
        with transaction.atomic():
            result = _run(period, operator, provider, progress)
            if dry_run:
                result.dry_run = True
                raise _DryRun(result)
    except _DryRun as done:
        return done.result
    return result


def providers_to_settle(provider: Organization | None = None) -> list[Organization]:
    if provider is not None:
        return [provider]
    ids = Participation.objects.values_list("provider_id", flat=True).distinct()
    return list(Organization.objects.filter(pk__in=ids).order_by("name", "pk"))


def _run(period: Period, operator: Organization, provider: Organization | None, progress) -> RunResult:
    # One run of an operator at a time (the month-end task and a hand-made run may meet): they queue here.
    # (NO KEY UPDATE: rows that merely refer to the operator, a statement number taken, do not wait for it.)
    Organization.objects.select_for_update(no_key=True).filter(pk=operator.pk).first()
    run = SettlementRun.objects.create(operator=operator, month=period.start, provider=provider)
    slices_make(run, start=period.start, end=period.end)
    result = RunResult(month=period, run=run)
    d = _Dialect(connection.vendor)
    day_sql, fee_sql = day_lines_sql(d), activation_lines_sql(d)
    for who in providers_to_settle(provider):
        currencies = set(
            RateSlice.objects.filter(run=run, provider=who).values_list("card__currency", flat=True).distinct()
        )
        for currency in sorted(currencies):
            Statement.objects.get_or_create(operator=operator, provider=who, currency=currency, month=period.start)
            # Locked: a draft being issued meanwhile is issued first, and then left as it is.
            statement = Statement.objects.select_for_update().get(
                operator=operator, provider=who, currency=currency, month=period.start
            )
            if statement.status == StatementStatus.DRAFT:
                # A draft is rebuilt from the ledger as it is now; its adjustments stay. One DELETE: the ORM's
                # would load every line of the month to see what protects it (a draft's lines are never
                # disputed, and the database's foreign keys refuse what would be).
                with connection.cursor() as cursor:
                    cursor.execute(
                        "DELETE FROM wholesale_statementline WHERE statement_id = %s AND period_id IS NOT NULL",
                        [statement.pk],
                    )
        params = {
            "run": run.pk,
            "provider": who.pk,
            "month": period.start,
            "start": period.start,
            "end": period.end,
            "start_utc": _utc(period.start) - _ZONE_SLACK,
            "end_utc": _utc(period.end) + _ZONE_SLACK,
            "month_days": period.days,
        }
        with connection.cursor() as cursor:
            cursor.execute(day_sql, params)
            result.lines += max(cursor.rowcount, 0)
            cursor.execute(fee_sql, params)
            result.lines += max(cursor.rowcount, 0)
        result.lines += _credit_upheld_disputes(operator, who, period)
        result.statements += _totals(operator, who, period)
        if progress:
            progress(who)
    run.lines_added, run.statements_touched, run.finished_at = result.lines, len(result.statements), timezone.now()
    run.save(update_fields=["lines_added", "statements_touched", "finished_at"])
    return result


def _credit_upheld_disputes(operator: Organization, provider: Organization, period: Period) -> int:
    """Each upheld dispute not yet credited becomes a (negative) adjustment line on the provider's draft of this
    month, in the disputed statement's currency: once (a unique constraint), whichever run gets there first."""
    upheld = (
        StatementDispute.objects.filter(
            statement__operator=operator,
            statement__provider=provider,
            statement__month__lt=period.start,
            status=DisputeStatus.UPHELD,
        )
        .exclude(adjustments__isnull=False)
        .select_related("statement")
    )
    made = 0
    for dispute in upheld:
        statement, _ = Statement.objects.get_or_create(
            operator=operator, provider=provider, currency=dispute.statement.currency, month=period.start
        )
        if statement.status != StatementStatus.DRAFT:
            continue
        StatementLine.objects.create(
            statement=statement,
            kind=LineKind.ADJUSTMENT,
            dispute=dispute,
            amount=-dispute.upheld_amount,
            unit_rate=-dispute.upheld_amount,
            description=f"Dispute {dispute.pk} of {dispute.statement.number} upheld: credited",
        )
        made += 1
    return made


def _totals(operator: Organization, provider: Organization, period: Period) -> list[Statement]:
    """Sum each draft of the provider's month; tax on the net per the card (none for a provider abroad); the
    revenue share's retail collected and payout. A draft with no line is removed."""
    touched = []
    drafts = Statement.objects.filter(
        operator=operator, provider=provider, month=period.start, status=StatementStatus.DRAFT
    ).annotate(line_count=Count("lines"), line_sum=Sum("lines__amount"))
    for statement in drafts:
        if not statement.line_count:
            statement.delete()
            continue
        card_tax = (
            StatementLine.objects.filter(statement=statement, card__isnull=False)
            .order_by("-card__valid_from")
            .values_list("card__tax_rate", flat=True)
            .first()
        )
        abroad = bool(provider.country and operator.country and provider.country != operator.country)
        statement.tax_rate = Decimal("0") if abroad or card_tax is None else card_tax
        statement.subtotal = money(statement.line_sum or 0)
        statement.tax = money(statement.subtotal * statement.tax_rate)
        statement.total = statement.subtotal + statement.tax
        shared = list(
            Participation.objects.filter(
                provider=provider,
                settlement_model=SettlementModel.REVENUE_SHARE,
                marketplace__currency=statement.currency,
            ).values_list("marketplace_id", flat=True)
        )
        if shared:
            statement.retail_collected = collected_for_provider(
                provider_id=provider.pk, marketplace_ids=shared, start=period.start, end=period.end
            )
            statement.payout = statement.retail_collected - statement.total
        else:
            statement.retail_collected = statement.payout = None
        statement.save(
            update_fields=["tax_rate", "subtotal", "tax", "total", "retail_collected", "payout", "updated_at"]
        )
        touched.append(statement)
    return touched


def statement_days(statement: Statement) -> dict[int, int]:
    """Days on the statement per ledger period (what the property tests check against the ledger)."""
    rows = (
        StatementLine.objects.filter(statement=statement, kind__in=(LineKind.ACCESS, LineKind.SUSPENDED))
        .values("period_id")
        .annotate(total=Sum("days"))
    )
    return {row["period_id"]: row["total"] for row in rows}
