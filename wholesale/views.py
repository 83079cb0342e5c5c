"""The operator's settlement page (/ops/settlement/): a month of each provider's statements, settlement variance,
variance rows by kind and open disputes, with a chart of the last twelve months' statement totals. Read-only: the
links lead into the admin, where the actions are."""

import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from cos.ops import console_reader
from cos.periods import add_months
from marketplace.selectors import local_day
from wholesale.choices import OPEN_DISPUTE_STATUSES
from wholesale.selectors import SettlementMonth, last_closed_month, settlement_month, variance_thresholds

PALETTE = ("#0b6bcb", "#1a7f37", "#9a6700", "#8250df", "#b42318", "#0f766e", "#c2410c", "#5b6776")


def _month_asked(value: str) -> date | None:
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1)
    except ValueError:
        return None


@dataclass
class Series:
    label: str
    color: str
    currency: str
    path: str = ""
    points: list[tuple[float, float, str]] = field(default_factory=list)  # x, y, what the point says
    totals: list[Decimal | None] = field(default_factory=list)  # per month of the chart (None: no statement)


@dataclass
class Chart:
    """An inline SVG line chart, drawn on the server: one line per provider (and currency) over the months."""

    width: int = 760
    height: int = 260
    left: int = 76
    right: int = 16
    top: int = 14
    bottom: int = 40
    ticks: list[tuple[float, str]] = field(default_factory=list)  # y, label
    months: list[tuple[float, str, str]] = field(default_factory=list)  # x, month, year (on the first and January)
    series: list[Series] = field(default_factory=list)

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom


def _nice_step(span: float, parts: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that cuts `span` into about `parts` pieces."""
    raw = span / parts
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _amount_label(value: float, step: float) -> str:
    return f"{value:,.0f}" if step >= 1 else f"{value:,.2f}"


def chart_of(data: SettlementMonth) -> Chart | None:
    """The chart of the months' statement totals, or None where there is no statement in them."""
    values = [float(total) for by_month in data.totals.values() for total in by_month.values()]
    if not values:
        return None
    chart = Chart()
    low, high = min(0.0, *values), max(0.0, *values)
    step = _nice_step(high - low or 1.0)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    plot_w = chart.width - chart.left - chart.right
    plot_h = chart.height - chart.top - chart.bottom

    def y(value: float) -> float:
        return round(chart.top + plot_h * (high - value) / (high - low), 1)

    def x(index: int) -> float:
        return round(chart.left + plot_w * (index + 0.5) / len(data.months), 1)

    tick = low
    while tick <= high + step / 2:
        chart.ticks.append((y(tick), _amount_label(tick, step)))
        tick += step
    for index, month in enumerate(data.months):
        year = str(month.year) if index == 0 or month.month == 1 else ""
        chart.months.append((x(index), f"{month:%b}", year))
    names = {row.provider.pk: row.provider.name for row in data.providers}
    currencies = {currency for _, currency in data.totals}
    for number, ((provider_id, currency), by_month) in enumerate(
        sorted(data.totals.items(), key=lambda item: (names.get(item[0][0], ""), item[0][1]))
    ):
        label = names.get(provider_id, str(provider_id)) + (f" ({currency})" if len(currencies) > 1 else "")
        series = Series(label=label, color=PALETTE[number % len(PALETTE)], currency=currency)
        commands, previous = [], False
        for index, month in enumerate(data.months):
            total = by_month.get(month)
            series.totals.append(total)
            if total is None:
                previous = False  # no statement that month: the line breaks
                continue
            px, py = x(index), y(float(total))
            commands.append(f"{'L' if previous else 'M'}{px},{py}")
            series.points.append((px, py, f"{label}, {month:%Y-%m}: {total} {currency}"))
            previous = True
        series.path = " ".join(commands)
        chart.series.append(series)
    return chart


def _admin_links(user, data: SettlementMonth) -> dict:
    """Where each figure leads in the admin, where the person may view it ("" otherwise)."""
    month = f"{data.month:%Y-%m}"
    variance_list = reverse("admin:wholesale_variance_changelist") if user.has_perm("wholesale.view_variance") else ""
    statement_page = user.has_perm("wholesale.view_statement")
    dispute_page = user.has_perm("wholesale.view_statementdispute")
    links: dict = {"statements": {}, "variance": {}, "variance_kinds": {}, "disputes": {}, "open_disputes": {}}
    for row in data.providers:
        provider = row.provider.pk
        for statement in row.statements:
            links["statements"][statement.pk] = (
                reverse("admin:wholesale_statement_change", args=[statement.pk]) if statement_page else ""
            )
        if variance_list:
            query = {"month": month, "provider": provider}
            links["variance"][provider] = f"{variance_list}?{urlencode(query)}"
            for item in row.by_kind:
                links["variance_kinds"][(provider, item.kind)] = (
                    f"{variance_list}?{urlencode({**query, 'kind__exact': item.kind})}"
                )
        if dispute_page:
            for dispute in row.disputes:
                links["disputes"][dispute.dispute.pk] = reverse(
                    "admin:wholesale_statementdispute_change", args=[dispute.dispute.pk]
                )
            query = {"provider": provider, "status__in": ",".join(OPEN_DISPUTE_STATUSES)}
            links["open_disputes"][provider] = (
                f"{reverse('admin:wholesale_statementdispute_changelist')}?{urlencode(query)}"
            )
    return links


@staff_member_required
def ops_settlement(request):
    """A month of settlement per provider (?month=YYYY-MM; the last month that is over by default): its statements
    and totals, settlement variance against the board's target and alert, the variance rows by kind, the open
    disputes with their age and escalation, and the last twelve months' totals as a chart. Read-only; a fixed number
    of queries."""
    if not console_reader(request.user) or not request.user.has_perm("wholesale.view_statement"):
        return render(request, "ops/forbidden.html", status=403)
    today = local_day(timezone.now(), settings.SITE_TIME_ZONE)
    asked = request.GET.get("month", "").strip()
    month = _month_asked(asked) if asked else None
    refused = bool(asked) and month is None
    month = month or last_closed_month(today)
    data = settlement_month(month=month, today=today)
    links = _admin_links(request.user, data)
    rows = [
        {
            "row": row,
            "statements": [(statement, links["statements"].get(statement.pk, "")) for statement in row.statements],
            "variance_url": links["variance"].get(row.provider.pk, ""),
            "kinds": [(item, links["variance_kinds"].get((row.provider.pk, item.kind), "")) for item in row.by_kind],
            "disputes": [(dispute, links["disputes"].get(dispute.dispute.pk, "")) for dispute in row.disputes],
            "open_disputes_url": links["open_disputes"].get(row.provider.pk, ""),
        }
        for row in data.providers
    ]
    chart = chart_of(data)
    context = {
        "data": data,
        "month": month,
        "month_value": f"{month:%Y-%m}",
        "asked": asked if refused else "",
        "is_open": month > last_closed_month(today),
        "previous": f"{add_months(month, -1):%Y-%m}",
        "next": f"{add_months(month, 1):%Y-%m}",
        "rows": rows,
        "chart": chart,
        "target_percent": variance_thresholds()[0] * 100,
        "alert_percent": variance_thresholds()[1] * 100,
        "total_disputes": sum(len(row.disputes) for row in data.providers),
    }
    return render(request, "wholesale/ops_settlement.html", context)
