"""Benchmark: work orders and tasks for an area of 10,000 and 100,000 addresses going into deployment (PostgreSQL).

Measures the whole creation: chunk planning plus every chunk (three INSERT ... SELECT each), the
chunks taken by WORKERS threads with their own database connections, as Celery workers take the
chunk events. Baseline measured in the same run: COPY of the same number of task rows into a copy
of the task table. Both are warmed up first on an area of 1,000 addresses of its own.
Targets: 10k in <= 2 s, 100k in <= 20 s, a flat number of queries per chunk.
"""

import io
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from bench.common import django_setup, env_int, run, verdict

SIZES = (10_000, 100_000)
WORKERS = env_int("COS_BENCH_CHUNK_WORKERS", 2)


def _area(code: str, count: int):
    from django.db import connection

    from cos.models import Area

    area = Area.objects.create(name=f"Bench {code}", code=code, status="in_deployment")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO cos_addressobject (external_id, street, house_number, suffix, unit, postal_code, city, country,
                building_type, units, area_id, status, circuit_id, circuit_name, extra, created_at, updated_at)
            SELECT %s || '-' || g, 'Benchvägen', 1 + g %% 500, '', (g / 500)::text, '99999', 'Benchby', 'SE',
                (ARRAY['single_family', 'single_family', 'multi_dwelling', 'business'])[1 + g %% 4], 1, %s,
                'in_deployment', '', '', '{}', now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [code, area.pk, count],
        )
        cursor.execute("ANALYZE cos_addressobject")
    return area


def _copy_baseline(rows: int) -> float:
    """Seconds to COPY `rows` task-shaped rows into a copy of the task table (same columns and indexes)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_task_copy")
        cursor.execute("CREATE TABLE bench_task_copy (LIKE workorders_task INCLUDING ALL)")
        buffer = io.StringIO()
        for i in range(rows):
            buffer.write(
                f"{i + 1}\t2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\t{i // 8 + 1}\t{i % 8 + 1}\tphysical"
                f'\tTask title\tDo the work\t["photo"]\tsplicing\tstaff\tf\topen\t\\N\t\\N\t\\N\t\\N\t\\N\t\n'
            )
        buffer.seek(0)
        columns = (
            "id, created_at, updated_at, work_order_id, position, category, title, instructions, "
            "evidence_required, required_skill, performed_by, triggers_provisioning, status, "
            "assigned_user_id, assigned_organization_id, completed_by_id, completed_by_organization_id, "
            "completed_at, skip_reason"
        )
        start = time.perf_counter()
        cursor.copy_expert(f"COPY bench_task_copy ({columns}) FROM STDIN", buffer)
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_task_copy")
    return elapsed


def _chunk_in_thread(area_id: int, chunk: tuple[int, int]) -> int:
    from django.db import connection

    from workorders.batch import work_orders_create_chunk

    try:
        return work_orders_create_chunk(area_id=area_id, first_id=chunk[0], last_id=chunk[1])
    finally:
        connection.close()


def _create(area, chunk_queries: set | None = None) -> float:
    """Seconds to create the area's work orders and tasks: the first chunk here (its queries counted), the rest
    taken by WORKERS threads."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workorders.batch import address_chunks, work_orders_create_chunk

    start = time.perf_counter()
    chunks = address_chunks(area_id=area.pk, size=settings.WORKORDERS_CHUNK_SIZE)
    first, last = chunks[0]
    with CaptureQueriesContext(connection) as captured:
        work_orders_create_chunk(area_id=area.pk, first_id=first, last_id=last)
    if chunk_queries is not None:
        chunk_queries.add(len(captured))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(partial(_chunk_in_thread, area.pk), chunks[1:]))
    return time.perf_counter() - start


def main() -> dict:
    django_setup(name="workorders_batch")
    from django.conf import settings

    from workorders import demo_data
    from workorders.models import Task, WorkOrder

    demo_data.seed()
    _create(_area("BWO-WARM", 1_000))  # warm-up of both measures
    _copy_baseline(1_000)
    results, chunk_queries = {}, set()
    print(
        f"== work orders for an area going into deployment (PostgreSQL, chunks of {settings.WORKORDERS_CHUNK_SIZE}, "
        f"{WORKERS} workers) =="
    )
    print(f"{'addresses':>10} {'seconds':>8} {'rows':>9} {'rows/s':>9} {'COPY rows/s':>12} {'ratio':>6}")
    for size in SIZES:
        area = _area(f"BWO{size}", size)
        elapsed = _create(area, chunk_queries)
        work_orders = WorkOrder.objects.filter(address__area=area).count()
        tasks = Task.objects.filter(work_order__address__area=area).count()
        assert work_orders == size, (work_orders, size)
        rows = work_orders + tasks
        copy_seconds = _copy_baseline(rows)
        results[size] = elapsed
        print(
            f"{size:>10,} {elapsed:>8.2f} {rows:>9,} {rows / elapsed:>9,.0f} {rows / copy_seconds:>12,.0f} "
            f"{(rows / elapsed) / (rows / copy_seconds):>6.2f}"
        )
    print(f"queries per chunk: {sorted(chunk_queries)} (flat: {verdict(len(chunk_queries) == 1)})")
    print(f"10k target <= 2 s: {results[SIZES[0]]:.2f} s  {verdict(results[SIZES[0]] <= 2)}")
    print(f"100k target <= 20 s: {results[SIZES[1]]:.2f} s  {verdict(results[SIZES[1]] <= 20)}")
    return results


if __name__ == "__main__":
    run(main)
