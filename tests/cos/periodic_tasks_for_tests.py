"""Celery tasks used by the periodic-runner tests: they record each call."""

from celery import shared_task

calls: list[str] = []


@shared_task(ignore_result=True)
def record_a_task() -> int:
    calls.append("a")
    return 3


@shared_task(ignore_result=True)
def record_b_task() -> None:
    calls.append("b")


@shared_task(ignore_result=True)
def broken_task() -> None:
    calls.append("broken")
    raise ConnectionError("the gateway is unreachable")
