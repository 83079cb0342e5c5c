"""The wholesale settlement benchmark at a tiny size: its data set is the one it describes, and its measurement
runs through (the statements checked against the raw aggregate, the figures and the verdicts printed)."""

from datetime import UTC, date, datetime

import pytest
from django.db.models import Count, Q

from bench import wholesale_settlement as bench
from provisioning.models import ServicePeriod
from wholesale.models import RateCard, Statement

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PERIODS = 400


def test_the_data_set_holds_the_periods_it_describes():
    # given
    ids = bench.world()

    # when
    bench.data_set(ids, PERIODS)

    # then
    periods = ServicePeriod.objects.aggregate(
        total=Count("id"),
        open=Count("id", filter=Q(ended_at__isnull=True)),
        suspended=Count("id", filter=Q(cause="suspend")),
        activated_in_month=Count("id", filter=Q(cause="activate", started_at__gte=datetime(2026, 11, 1, tzinfo=UTC))),
        switched=Count("id", filter=Q(cause="switch")),
        ended_in_month=Count("id", filter=Q(end_cause="deactivate")),
        providers=Count("provider", distinct=True),
        marketplaces=Count("subscription__marketplace", distinct=True),
        areas=Count("address__area", distinct=True),
        profiles=Count("profile", distinct=True),
    )
    services = PERIODS // bench.PERIODS_PER_SERVICE
    assert periods["total"] == PERIODS
    assert periods["open"] == services - periods["ended_in_month"]
    assert periods["suspended"] == services // 5
    assert periods["activated_in_month"] == services * 15 // 100
    assert periods["switched"] == services // 20
    assert periods["ended_in_month"] == services // 10
    assert (periods["providers"], periods["marketplaces"], periods["areas"]) == (5, 2, 4)
    assert periods["profiles"] == len(bench.PROFILES) + 1  # and "suspended"
    # the provider cards change in the month: lines split on the 11th and the 21st
    assert RateCard.objects.filter(provider__isnull=False, valid_from__gt=date(2026, 11, 1)).count() == 6


def test_the_measurement_runs_and_judges_each_target(capsys):
    # given
    ids = bench.world()

    # when
    results = bench.benchmark(ids, (PERIODS // 10, PERIODS), runs=1)

    # then
    large = results[PERIODS]
    assert large["periods"] == PERIODS  # every period has days in the month, and each is on a statement
    assert large["firsts"][0]["lines"] > PERIODS  # some are split where a card changes
    assert set(large["figures"]["kinds"]) == {"access", "suspended", "activation"}
    assert large["seconds"] > 0
    assert large["raw"] > 0
    assert set(large["floors"]) == {"bare", "indexes", "keys"}
    assert Statement.objects.filter(month=date(2026, 11, 1)).count() == 5
    out = capsys.readouterr().out
    assert "target 400 periods in <= 1 s" in out
    assert "the raw GROUP BY at 400" in out
    assert "target memory flat in N" in out
    assert out.count("PASS") + out.count("MISS") == 3
