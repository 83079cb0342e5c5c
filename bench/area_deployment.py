"""Benchmark: area_start_deployment on areas of 10,000 and 100,000 addresses (PostgreSQL).

Baseline, measured in the same run on an identical area: the bare set-based UPDATE of the
addresses' status (no area transition, no transition log, no event). Both are warmed up first on areas of
1,000 addresses of their own. Targets: 10k in <= 1 s; 100k takes <= 11x the 10k time.
"""

import time

from bench.common import django_setup, run, verdict

SIZES = (10_000, 100_000)


def _area_with_addresses(code: str, count: int):
    from django.db import connection

    from cos.choices import AreaStatus
    from cos.models import Area

    area = Area.objects.create(name=f"Bench {code}", code=code, status=AreaStatus.SURVEYED)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO cos_addressobject (external_id, street, house_number, suffix, unit, postal_code, city, country,
                building_type, units, area_id, status, circuit_id, circuit_name, extra, created_at, updated_at)
            SELECT %s || '-' || g, 'Benchvägen', 1 + g %% 500, '', (g / 500)::text, '99999', 'Benchby', 'SE',
                'single_family', 1, %s, CASE WHEN g %% 3 = 0 THEN 'surveyed' ELSE 'planned' END, '', '', '{}',
                now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [code, area.pk, count],
        )
        cursor.execute("ANALYZE cos_addressobject")
    return area


def _raw_update(area) -> float:
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cos_addressobject SET status = 'in_deployment', updated_at = now() "
            "WHERE area_id = %s AND status IN ('planned', 'surveyed')",
            [area.pk],
        )
    return time.perf_counter() - start


def _service(area) -> float:
    from cos.services import area_start_deployment

    start = time.perf_counter()
    moved = area_start_deployment(area_id=area.pk).addresses_moved
    seconds = time.perf_counter() - start
    assert moved == area.addresses.count(), (moved, area.pk)
    return seconds


def main() -> dict:
    django_setup(name="area_deployment")
    _service(_area_with_addresses("BDEP-WS", 1_000))  # warm-up of both, on areas of their own
    _raw_update(_area_with_addresses("BDEP-WR", 1_000))
    results = {}
    print("== area_start_deployment (PostgreSQL) ==")
    print(f"{'addresses':>10} {'service':>10} {'raw UPDATE':>11} {'ratio':>7} {'per address':>12}")
    for size in SIZES:
        service_area = _area_with_addresses(f"BDEP-S{size}", size)
        raw_area = _area_with_addresses(f"BDEP-R{size}", size)
        raw = _raw_update(raw_area)
        service = _service(service_area)
        results[size] = service
        print(f"{size:>10,} {service:>9.3f}s {raw:>10.3f}s {service / raw:>6.1f}x {service / size * 1e6:>9.1f} us")
    scaling = results[SIZES[1]] / results[SIZES[0]]
    print(f"10k target <= 1.000 s: {results[SIZES[0]]:.3f} s  {verdict(results[SIZES[0]] <= 1.0)}")
    print(f"100k/10k time ratio target <= 11.0: {scaling:.2f}  {verdict(scaling <= 11.0)}")
    return results


if __name__ == "__main__":
    run(main)
