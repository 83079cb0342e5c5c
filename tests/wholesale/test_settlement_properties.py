"""Settlement adds up (hypothesis): every ledger day of every provider's service is on exactly one statement line, at
the rate in force that day, priced as the retail engine prorates; a statement's total is the sum of its lines;
re-running a month adds nothing; an upheld dispute's amount appears once on the next statement."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.engine import part_of
from provisioning.choices import PeriodCause
from provisioning.models import ServicePeriod
from tests.billing.factories import at
from tests.marketplace.factories import world
from tests.wholesale.factories import card, service_with_periods
from wholesale.choices import DAY_KINDS, LineKind
from wholesale.models import RateCard, StatementLine
from wholesale.rates import RateInput
from wholesale.services import dispute_open, dispute_uphold, statement_issue
from wholesale.settlement import month_of, settlement_run

ZONE = ZoneInfo("Europe/Stockholm")
START = datetime(2026, 9, 25, tzinfo=ZONE)  # the ledger's history starts a few days before October
MONTHS = ("2026-10", "2026-11")
PROFILES = ("HSI_1000_1000", "HSI_250_250")

rates = st.integers(0, 99_999).map(lambda cents: Decimal(cents) / 100)
versions = st.lists(st.tuples(st.integers(1, 70), rates, rates), max_size=3, unique_by=lambda v: v[0])
periods = st.lists(
    st.tuples(
        st.integers(1, 20 * 24),  # hours the period lasts (a change may come within a day)
        st.sampled_from([PeriodCause.ACTIVATE, PeriodCause.MODIFY, PeriodCause.SUSPEND, PeriodCause.RESUME]),
        st.sampled_from(PROFILES),
        st.booleans(),  # a gap (deactivated) after it
    ),
    min_size=1,
    max_size=6,
)


def _local_day(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


def _spans(start_hour: int, items, open_end: bool):
    moment, spans = START + timedelta(hours=start_hour), []
    for index, (hours, cause, profile, gap) in enumerate(items):
        end = moment + timedelta(hours=hours)
        last = index == len(items) - 1
        spans.append((moment, None if (last and open_end) else end, cause, profile))
        moment = end + (timedelta(hours=37) if gap else timedelta(0))
    return spans


def _rate_on(day: date, provider, category: str, profile: str, suspended: bool) -> Decimal | None:
    """The reference: the most specific card valid on the day (the provider's own over the default, the newer
    of equals), its rate for the profile (else for any profile)."""
    cards = [
        c for c in RateCard.objects.prefetch_related("rates") if c.covers(day) and c.provider_id in (None, provider.pk)
    ]
    if not cards:
        return None
    best = max(cards, key=lambda c: (c.provider_id is not None, c.pk))
    by_profile = {r.profile: r for r in best.rates.all() if r.category == category}
    rate = by_profile.get(profile) or by_profile.get("")
    if rate is None:
        return None
    return rate.suspended_rate if suspended else rate.monthly_rate


@pytest.mark.django_db
def test_every_ledger_day_is_on_exactly_one_line_at_the_rate_in_force_that_day():
    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        default=versions,
        own=versions,
        profile_rate=st.one_of(st.none(), rates),
        services=st.lists(st.tuples(st.integers(0, 40 * 24), periods, st.booleans()), min_size=1, max_size=3),
    )
    def check(default, own, profile_rate, services):
        with transaction.atomic():
            # given: a provider's services live over these periods, at the default card's and its own versions
            w = world()
            base = [RateInput("internet", Decimal("199.00"), suspended_rate=Decimal("19.00"))]
            if profile_rate is not None:
                base.append(RateInput("internet", profile_rate, profile=PROFILES[0]))
            card(rates=base, valid_from=date(2026, 1, 1))
            for offset, monthly, suspended in sorted(default):
                card(monthly=str(monthly), suspended=str(suspended), valid_from=START.date() + timedelta(days=offset))
            for offset, monthly, suspended in sorted(own):
                card(
                    w.provider,
                    monthly=str(monthly),
                    suspended=str(suspended),
                    valid_from=START.date() + timedelta(days=offset),
                )
            made = [service_with_periods(w, _spans(h, items, open_end)) for h, items, open_end in services]
            ledger = list(ServicePeriod.objects.filter(service__in=made))
            for month in MONTHS:
                # when: the month is settled
                period = month_of(month)
                expected = set()
                for p in ledger:
                    first = max(_local_day(p.started_at), period.start)
                    until = min(_local_day(p.ended_at), period.end) if p.ended_at else period.end
                    expected |= {(p.pk, first + timedelta(days=n)) for n in range((until - first).days)}
                statements = settlement_run(month=month).statements
                if not statements:  # nothing live in the month: nothing to charge
                    assert expected == set()
                    continue
                (statement,) = statements
                lines = list(statement.lines.all())
                # then: each live day of each period on one line of that period, at the rate of that day
                covered: dict[tuple[int, date], int] = {}
                for line in lines:
                    if line.kind not in DAY_KINDS:
                        continue
                    assert line.amount == part_of(line.unit_rate, line.days, period.days)
                    assert line.days == (line.until - line.first_day).days > 0
                    for offset in range(line.days):
                        day = line.first_day + timedelta(days=offset)
                        covered[(line.period_id, day)] = covered.get((line.period_id, day), 0) + 1
                        suspended = line.kind == LineKind.SUSPENDED
                        assert line.unit_rate == _rate_on(day, w.provider, "internet", line.profile, suspended)
                assert set(covered) == expected
                assert set(covered.values()) <= {1}
                assert statement.subtotal == sum((line.amount for line in lines), Decimal("0.00"))
                assert statement.total == statement.subtotal + statement.tax
                # and a re-run gives the same lines; once issued, adds nothing
                again = sorted(
                    settlement_run(month=month)
                    .statements[0]
                    .lines.values_list("period_id", "kind", "first_day", "amount")
                )
                assert again == sorted((x.period_id, x.kind, x.first_day, x.amount) for x in lines)
                with time_machine.travel(at(period.end), tick=False):
                    statement_issue(statement_id=statement.pk)
                count = StatementLine.objects.count()
                assert settlement_run(month=month).statements == []
                assert StatementLine.objects.count() == count
            transaction.set_rollback(True)

    check()


@pytest.mark.django_db
def test_an_upheld_dispute_appears_once_on_the_next_statement():
    @settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(share=st.integers(1, 100), reruns=st.integers(1, 3))
    def check(share, reruns):
        with transaction.atomic():
            # given: October issued; a dispute of part of a line, upheld
            w = world()
            card(monthly="300.00")
            service_with_periods(w, [(START, None, PeriodCause.ACTIVATE, None)])
            (october,) = settlement_run(month="2026-10").statements
            with time_machine.travel(at(date(2026, 11, 1)), tick=False):
                statement_issue(statement_id=october.pk)
                line = october.lines.first()
                amount = (line.amount * share / 100).quantize(Decimal("0.01")) or Decimal("0.01")
                dispute = dispute_open(
                    statement_id=october.pk,
                    provider=w.provider,
                    lines=[{"line": line.pk, "amount": str(amount)}],
                    reason_code="wrong_rate",
                )
            dispute_uphold(dispute_id=dispute.pk)
            # when: November is settled, once or more
            for _ in range(reruns):
                (november,) = settlement_run(month="2026-11").statements
            # then: the amount credited once, on November's
            credits = list(StatementLine.objects.filter(kind=LineKind.ADJUSTMENT))
            assert [(c.statement_id, c.amount) for c in credits] == [(november.pk, -amount)]
            assert november.subtotal == Decimal("300.00") - amount
            transaction.set_rollback(True)

    check()
