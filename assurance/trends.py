"""The board's weeks: each metric's readings at the end of the last closed weeks (kept once computed: WeekReading)
and now (always live). A week ends at the end of its last local day, Sunday, so a point of the trend and its
drill-down (?at=<that Sunday>) read the same moment."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from assurance.metrics import METRICS, Reading, Scope, _zone, board, colour_of, target_text
from assurance.models import WeekReading

WEEKS = 12  # the board's trend: eleven closed weeks and the current one


def week_ends(now: datetime, weeks: int) -> list[datetime]:
    """The ends of the `weeks - 1` closed weeks before `now` (oldest first): each the last instant of a local
    Sunday before today."""
    zone = _zone()
    today = now.astimezone(zone).date()
    sunday = today - timedelta(days=(today.weekday() + 1) % 7 or 7)  # the last Sunday before today
    return [
        datetime.combine(sunday - timedelta(weeks=back), time.max, tzinfo=zone) for back in range(weeks - 2, -1, -1)
    ]


def _reading_of(row: WeekReading) -> Reading:
    return Reading(
        key=row.metric,
        name=row.name,
        value=row.value,
        unit=row.unit,
        numerator=row.numerator,
        denominator=row.denominator,
        colour=colour_of(row.metric, row.judged),
        target=target_text(row.metric),
        extra=dict(row.extra),
        judged=row.judged,
    )


def _kept(scope: Scope, end: datetime, readings: list[Reading]) -> None:
    rows = [
        WeekReading(
            metric=r.key,
            scope=scope.key,
            week_end=end,
            name=r.name,
            unit=r.unit,
            value=r.value,
            judged=r.judged,
            numerator=r.numerator,
            denominator=r.denominator,
            extra={k: v for k, v in r.extra.items() if k != "week"},
            computed_at=timezone.now(),
        )
        for r in readings
    ]
    WeekReading.objects.bulk_create(rows, ignore_conflicts=True)  # another board or check may have kept them


def closed_weeks(scope: Scope, now: datetime, weeks: int) -> list[tuple[datetime, list[Reading]]]:
    """Each closed week's readings of every metric, oldest first: from the kept ones, the missing computed now (as
    of the week's end) and kept. One query when all are kept."""
    ends = week_ends(now, weeks)
    kept: dict[datetime, dict[str, Reading]] = {}
    for row in WeekReading.objects.filter(scope=scope.key, week_end__in=ends, metric__in=list(METRICS)):
        kept.setdefault(row.week_end, {})[row.metric] = _reading_of(row)
    result = []
    for end in ends:
        found = kept.get(end, {})
        if len(found) == len(METRICS):
            readings = [found[key] for key in METRICS]
        else:
            readings = board(scope, end)
            _kept(scope, end, readings)
        result.append((end, readings))
    return result


def readings_over_weeks(scope: Scope, now: datetime, weeks: int = WEEKS) -> dict[str, list[Reading]]:
    """Every metric's series: the closed weeks' readings, then now's (live)."""
    series: dict[str, list[Reading]] = {key: [] for key in METRICS}
    for at, readings in [*closed_weeks(scope, now, weeks), (now, board(scope, now))]:
        for reading in readings:
            reading.extra["week"] = f"{timezone.localtime(at, _zone()):%Y-%m-%d}"
            reading.extra["at"] = at
            series[reading.key].append(reading)
    return series
