"""The board (/ops/board/): each revenue-assurance metric with its value, target and colour, a twelve-week trend
drawn on the server (SVG), and the rows behind each number (/ops/board/<metric>/, also as CSV) with links into the
admin; /ops/board.json for BI tools (an operator staff member's API token, or the admin session)."""

import csv
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from assurance.metrics import METRICS, Reading, Scope
from assurance.trends import readings_over_weeks
from cos.api.authentication import ApiTokenAuthentication
from cos.models import Organization
from cos.ops import console_reader
from marketplace.models import Marketplace

COLOURS = {"green": "#1a7f37", "amber": "#9a6700", "red": "#b42318", "grey": "#8c959f"}


def _int(value: str) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _scope(request) -> Scope:
    return Scope(
        marketplace_id=_int(request.GET.get("marketplace", "")), provider_id=_int(request.GET.get("provider", ""))
    )


@dataclass
class Trend:
    """Twelve weekly readings of one metric as a small line chart (oldest left)."""

    width: int = 240
    height: int = 56
    points: list[tuple[float, float, str, str, str]] = field(default_factory=list)  # x, y, colour, text, week
    path: str = ""


def trend_of(readings: list[Reading]) -> Trend:
    trend = Trend()
    values = [float(r.value) for r in readings if r.value is not None]
    if not values:
        return trend
    low, high = min(values + [0.0]), max(values)
    span = (high - low) or 1.0
    step = (trend.width - 12) / max(len(readings) - 1, 1)
    for index, reading in enumerate(readings):
        if reading.value is None:
            continue
        x = 6 + index * step
        y = trend.height - 6 - (float(reading.value) - low) / span * (trend.height - 12)
        week = reading.extra.get("week", "")
        trend.points.append((round(x, 1), round(y, 1), COLOURS[reading.colour], f"{week}: {reading.shown}", week))
    trend.path = "M" + " L".join(f"{x},{y}" for x, y, *_ in trend.points)
    return trend


def _forbidden(request):
    return render(request, "ops/forbidden.html", status=403)


@staff_member_required
def board_page(request):
    """The metrics now (the week ending now), each with its trend of twelve weeks, for the network or a scope."""
    if not console_reader(request.user):
        return _forbidden(request)
    scope = _scope(request)
    now = timezone.now()
    weeks = readings_over_weeks(scope, now)
    cards = [{"reading": series[-1], "trend": trend_of(series)} for series in weeks.values()]
    query = request.GET.urlencode()
    if request.GET.get("format") == "csv":
        return _csv(
            f"board-{now:%Y%m%d}.csv",
            ["metric", "value", "shown", "colour", "target", "numerator", "denominator"],
            [
                [r.key, r.value, r.shown, r.colour, r.target, r.numerator, r.denominator]
                for r in (card["reading"] for card in cards)
            ],
        )
    return render(
        request,
        "assurance/board.html",
        {
            "cards": cards,
            "scope": scope,
            "scope_label": scope.label(),
            "marketplaces": Marketplace.objects.order_by("name"),
            "providers": Organization.objects.filter(kind="service_provider").order_by("name"),
            "query": f"?{query}" if query else "",
            "now": now,
        },
    )


@staff_member_required
def rows_page(request, key: str):
    """The rows behind one metric's number now, with links to their admin pages; ?format=csv as a spreadsheet."""
    if not console_reader(request.user):
        return _forbidden(request)
    if key not in METRICS:
        raise Http404("No such metric.")
    compute, rows_of = METRICS[key]
    scope = _scope(request)
    now = _week_asked(request.GET.get("at", "")) or timezone.now()
    reading, rows = compute(scope, now), rows_of(scope, now)
    if request.GET.get("format") == "csv":
        return _csv(f"{key}-{now:%Y%m%d}.csv", ["row", "detail", "link"], [[r.label, r.detail, r.url] for r in rows])
    query = request.GET.urlencode()
    return render(
        request,
        "assurance/rows.html",
        {
            "reading": reading,
            "rows": rows,
            "scope_label": scope.label(),
            "query": f"?{query}" if query else "",
            "week_end": now,
        },
    )


def _week_asked(value: str) -> datetime | None:
    """?at=YYYY-MM-DD: the week ending at the end of that local day (a point of a trend); never in the future."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    end = timezone.make_aware(datetime.combine(day, datetime.max.time()))
    return min(end, timezone.now())


def _csv(name: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write("\ufeff")  # spreadsheets read UTF-8 with its mark
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


class IsConsoleReader(permissions.BasePermission):
    message = "The board is for the network operator's staff."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and console_reader(request.user))


class BoardJson(APIView):
    """The board as JSON for BI tools: every metric now (and, with ?weeks=12, its weekly trend)."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsConsoleReader]
    schema = None  # an operator's endpoint, not the provider API

    def get(self, request):
        scope = _scope(request)
        now = timezone.now()
        weeks = _int(request.query_params.get("weeks", "1")) or 1
        if not 1 <= weeks <= 52:
            return Response({"code": "invalid_weeks", "detail": "weeks is 1 to 52."}, status=400)
        series = {
            key: [{"at": r.extra["at"].isoformat(), **_json(r)} for r in readings]
            for key, readings in readings_over_weeks(scope, now, weeks).items()
        }
        return Response(
            {
                "scope": {"marketplace": scope.marketplace_id, "provider": scope.provider_id, "label": scope.label()},
                "at": now.isoformat(),
                "metrics": [
                    {"key": key, "name": values[-1]["name"], "weeks": values} for key, values in series.items()
                ],
            }
        )


def _json(reading: Reading) -> dict:
    return {
        "name": reading.name,
        "value": str(reading.value) if reading.value is not None else None,
        "shown": reading.shown,
        "unit": reading.unit,
        "colour": reading.colour,
        "target": reading.target,
        "numerator": str(reading.numerator),
        "denominator": str(reading.denominator),
        **{k: v for k, v in reading.extra.items() if k not in ("week", "at")},
    }
