"""Statements and their disputes: issuing, settling, disputing lines, deciding a dispute. Each step is audited
(the transition log) and told to the provider (an event and a provider notification)."""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from billing.engine import money
from cos import events
from cos.errors import ApplicationError, Conflict, NotFound
from cos.fsm import transition_apply
from cos.services import providers_notify
from marketplace.selectors import local_day
from wholesale.choices import OPEN_DISPUTE_STATUSES, DisputeStatus, StatementStatus
from wholesale.models import (
    DisputedLine,
    RateCard,
    Statement,
    StatementDispute,
    StatementLine,
    StatementSequence,
)

ESCALATION_DAYS = (30, 60, 90)


def _today():
    from django.conf import settings

    return local_day(timezone.now(), settings.SITE_TIME_ZONE)


def _locked_statement(statement_id: int) -> Statement:
    statement = (
        Statement.objects.select_for_update(of=("self",))
        .select_related("operator", "provider")
        .filter(pk=statement_id)
        .first()
    )
    if statement is None:
        raise NotFound(f"There is no statement {statement_id}.", code="statement_not_found")
    return statement


def _tell(statement: Statement, name: str, **payload) -> None:
    event = events.publish(name, statement_id=statement.pk, provider_id=statement.provider_id, **payload)
    providers_notify(provider_ids=[statement.provider_id], event=event, topic=name)


def _next_number(issuer_id: int, year: int) -> str:
    StatementSequence.objects.get_or_create(issuer_id=issuer_id, year=year)
    sequence = StatementSequence.objects.select_for_update().get(issuer_id=issuer_id, year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"WS-{year}-{sequence.last_number:06d}"


@transaction.atomic
def statement_issue(*, statement_id: int, actor=None, today=None) -> Statement:
    """Number the draft (gapless per issuer and year) and freeze it, once its month is over. It is due after the
    card's payment days and may be disputed for the card's dispute window."""
    statement = _locked_statement(statement_id)
    if statement.status != StatementStatus.DRAFT:
        raise Conflict(f"{statement} is already issued.", code="not_draft")
    today = today or _today()
    if today < _month_end(statement):
        raise Conflict(
            f"The month of {statement} is not over: it is issued from {_month_end(statement)}.", code="month_open"
        )
    terms = RateCard.objects.filter(
        pk__in=StatementLine.objects.filter(statement=statement).values("card_id")
    ).aggregate(window=Max("dispute_window_days"), payment=Max("payment_days"))
    transition_apply(
        statement,
        "issue",
        by=actor,
        number=_next_number(statement.operator_id, today.year),
        issued_on=today,
        due_on=today + timedelta(days=terms["payment"] or 30),
        disputable_until=today + timedelta(days=terms["window"] or 30),
    )
    statement.save()
    _tell(statement, "statement.issued", number=statement.number, total=str(statement.total))
    return statement


def _month_end(statement: Statement):
    from cos.periods import add_months

    return add_months(statement.month, 1)


@transaction.atomic
def statement_settle(*, statement_id: int, actor=None) -> Statement:
    """Paid (or, in a revenue share, paid out): closed. Not while a dispute of it is open."""
    statement = _locked_statement(statement_id)
    if statement.disputes.filter(status__in=OPEN_DISPUTE_STATUSES).exists():
        raise Conflict(f"{statement} has an open dispute: decide it first.", code="dispute_open")
    transition_apply(statement, "settle", by=actor, at=timezone.now())
    statement.save()
    _tell(statement, "statement.settled", number=statement.number)
    return statement


def undisputed_amount(statement: Statement) -> Decimal:
    """What is due now: the total less what open disputes question (with its tax)."""
    questioned = DisputedLine.objects.filter(
        dispute__statement=statement, dispute__status__in=OPEN_DISPUTE_STATUSES
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return undisputed_of(statement.total, questioned, statement.tax_rate)


def undisputed_of(total: Decimal, questioned: Decimal, tax_rate: Decimal) -> Decimal:
    """A statement's total less the net amount its open disputes question, with that amount's tax."""
    return money(total - questioned * (1 + tax_rate))


@transaction.atomic
def dispute_open(
    *, statement_id: int, provider, lines: list[dict], reason_code: str, text: str = "", actor=None, today=None
) -> StatementDispute:
    """The provider disputes lines of its issued statement (each: the line id and the amount in question, at most
    the line's), within the dispute window. The rest of the statement stays due."""
    from wholesale.choices import DisputeReason

    statement = _locked_statement(statement_id)
    if statement.provider_id != provider.pk:
        raise NotFound(f"There is no statement {statement_id}.", code="statement_not_found")
    if statement.status not in (StatementStatus.ISSUED, StatementStatus.DISPUTED):
        raise Conflict(
            f"{statement} is {statement.get_status_display().lower()}: only an issued statement is disputed.",
            code="not_disputable",
        )
    today = today or _today()
    if statement.disputable_until and today > statement.disputable_until:
        raise Conflict(
            f"{statement} could be disputed until {statement.disputable_until}.", code="dispute_window_closed"
        )
    if reason_code not in DisputeReason.values:
        raise ApplicationError(
            f"reason_code is one of {', '.join(DisputeReason.values)}.",
            code="invalid_reason",
            extra={"field": "reason_code"},
        )
    if not lines:
        raise ApplicationError("A dispute names at least one line.", code="no_lines", extra={"field": "lines"})
    wanted = {}
    for item in lines:
        try:
            line_id, amount = int(item["line"]), Decimal(str(item.get("amount", "")) or "NaN")
        except (KeyError, TypeError, ValueError, ArithmeticError):
            raise ApplicationError('Each line is {"line": id, "amount": "12.50"}.', code="invalid_line") from None
        if line_id in wanted:
            raise ApplicationError(f"Line {line_id} is named twice.", code="duplicate_line")
        wanted[line_id] = amount
    found = StatementLine.objects.in_bulk(list(wanted))
    already = set(
        DisputedLine.objects.filter(
            line_id__in=list(wanted), dispute__status__in=(*OPEN_DISPUTE_STATUSES, DisputeStatus.UPHELD)
        ).values_list("line_id", flat=True)
    )
    for line_id, amount in wanted.items():
        line = found.get(line_id)
        if line is None or line.statement_id != statement.pk:
            raise ApplicationError(f"Line {line_id} is not on {statement}.", code="unknown_line")
        if line_id in already:
            raise Conflict(f"Line {line_id} is already disputed.", code="line_disputed")
        if not amount.is_finite() or amount <= 0 or money(amount) != amount or amount > abs(line.amount):
            raise ApplicationError(
                f"The amount in question of line {line_id} is more than 0 and at most {abs(line.amount)}.",
                code="invalid_amount",
            )
    dispute = StatementDispute(
        statement=statement,
        reason_code=reason_code,
        text=text[:4000],
        amount=sum(wanted.values(), Decimal("0.00")),
        opened_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    dispute.save()
    DisputedLine.objects.bulk_create(DisputedLine(dispute=dispute, line_id=k, amount=v) for k, v in wanted.items())
    if statement.status == StatementStatus.ISSUED:
        transition_apply(statement, "dispute", by=actor, reason=f"Dispute {dispute.pk}")
        statement.save()
    _tell(statement, "statement.dispute_updated", dispute_id=dispute.pk, status=dispute.status)
    return dispute


def _locked_dispute(dispute_id: int) -> StatementDispute:
    dispute = StatementDispute.objects.select_for_update(of=("self",)).filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFound(f"There is no dispute {dispute_id}.", code="dispute_not_found")
    return dispute


def _decided(dispute: StatementDispute, statement: Statement, actor) -> None:
    dispute.save()
    still_open = statement.disputes.filter(status__in=OPEN_DISPUTE_STATUSES).exclude(pk=dispute.pk).exists()
    if statement.status == StatementStatus.DISPUTED and not still_open:
        transition_apply(statement, "disputes_closed", by=actor, reason=f"Dispute {dispute.pk} {dispute.status}")
        statement.save()
    _tell(statement, "statement.dispute_updated", dispute_id=dispute.pk, status=dispute.status)


@transaction.atomic
def dispute_review(*, dispute_id: int, actor=None) -> StatementDispute:
    """The operator takes the dispute up."""
    dispute = _locked_dispute(dispute_id)
    statement = _locked_statement(dispute.statement_id)
    transition_apply(dispute, "review", by=actor)
    _decided(dispute, statement, actor)
    return dispute


@transaction.atomic
def dispute_uphold(*, dispute_id: int, actor=None, amount: Decimal | None = None, reason: str = "") -> StatementDispute:
    """The provider is right, for the amount in question (or part of it): credited, with its tax, as an
    adjustment line on the provider's next statement."""
    dispute = _locked_dispute(dispute_id)
    statement = _locked_statement(dispute.statement_id)
    amount = dispute.amount if amount is None else money(amount)
    if amount <= 0 or amount > dispute.amount:
        raise ApplicationError(f"An upheld amount is more than 0 and at most {dispute.amount}.", code="invalid_amount")
    transition_apply(dispute, "uphold", by=actor, amount=amount, at=timezone.now(), reason=reason)
    _decided(dispute, statement, actor)
    return dispute


@transaction.atomic
def dispute_reject(*, dispute_id: int, actor=None, reason: str = "") -> StatementDispute:
    """The charge stands; the provider is told why."""
    if not reason.strip():
        raise ApplicationError("Say why the dispute is rejected: the provider is told.", code="reason_required")
    dispute = _locked_dispute(dispute_id)
    statement = _locked_statement(dispute.statement_id)
    transition_apply(dispute, "reject", by=actor, at=timezone.now(), reason=reason)
    _decided(dispute, statement, actor)
    return dispute


@transaction.atomic
def dispute_withdraw(*, dispute_id: int, provider, actor=None, reason: str = "") -> StatementDispute:
    """The provider takes its dispute back."""
    dispute = _locked_dispute(dispute_id)
    statement = _locked_statement(dispute.statement_id)
    if statement.provider_id != provider.pk:
        raise NotFound(f"There is no dispute {dispute_id}.", code="dispute_not_found")
    transition_apply(dispute, "withdraw", by=actor, at=timezone.now(), reason=reason)
    _decided(dispute, statement, actor)
    return dispute


def escalation_level(dispute: StatementDispute, today=None) -> int:
    """0 under 30 days open, then 1, 2, 3 at 30, 60, 90 days (a decided dispute: its level when decided)."""
    end = dispute.decided_at or timezone.now()
    age = (end - dispute.created_at).days if today is None else (today - dispute.created_at.date()).days
    return sum(age >= days for days in ESCALATION_DAYS)
