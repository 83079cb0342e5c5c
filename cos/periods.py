"""Billing periods: calendar arithmetic shared by every app that reasons about billing periods.

The marketplace needs it to date a downgrade at the next period; billing prices the periods (billing.engine);
wholesale settles by them. Pure: no database, no clock.
"""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

MONTHLY = "monthly"
ANNIVERSARY = "anniversary"


def add_months(day: date, months: int, *, anchor: int | None = None) -> date:
    """The same day-of-month (or the anchor day) `months` later, clamped to the month's last day."""
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor or day.day, last))


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)


def period_containing(cycle: str, anchor: date, day: date) -> Period:
    """The billing period holding `day`: its calendar month, or the anniversary period anchored at `anchor`."""
    if cycle == MONTHLY:
        start = day.replace(day=1)
        return Period(start, add_months(start, 1))
    months = (day.year - anchor.year) * 12 + day.month - anchor.month
    start = add_months(anchor, months, anchor=anchor.day)
    if start > day:
        months -= 1
        start = add_months(anchor, months, anchor=anchor.day)
    return Period(start, add_months(anchor, months + 1, anchor=anchor.day))


def periods(cycle: str, anchor: date, start: date, end: date) -> list[Period]:
    """The periods that hold any day of [start, end)."""
    found = []
    day = start
    while day < end:
        period = period_containing(cycle, anchor, day)
        found.append(period)
        day = period.end
    return found
