"""A billing run's chunks go through the outbox: written with the run in one transaction, delivered after it
commits, re-delivered by the events sweep when the broker was down or a chunk failed. No run is left waiting for
chunks nobody bills, and no chunk is counted twice."""

from datetime import date, timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone
from kombu.exceptions import OperationalError

from billing import runs
from billing.choices import RunStatus
from billing.models import BillingRun, InvoiceLine
from billing.runs import billing_run, due_account_ids
from cos import events
from cos.choices import HandlerRunStatus
from cos.models import Event, HandlerRun
from tests.billing.factories import activate, subscription

pytestmark = pytest.mark.django_db

APRIL = date(2026, 4, 1)


def _due_subscriptions(count: int) -> list:
    """`count` subscribers (one account each) activated in March: April is due for each."""
    subs = [subscription() for _ in range(count)]
    for sub in subs:
        activate(sub, date(2026, 3, 15))
    return subs


def _chunk_runs(run) -> list[HandlerRun]:
    return list(HandlerRun.objects.filter(event__name=runs.CHUNK_REQUESTED, event__payload__run_id=run.pk))


def _billed_once(subs) -> bool:
    return all(InvoiceLine.objects.filter(subscription=sub, period_start=APRIL).count() == 1 for sub in subs)


def test_the_chunks_are_events_written_with_the_run(django_capture_on_commit_callbacks):
    # given
    subs = _due_subscriptions(3)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run(as_of=APRIL, chunk_size=2)
    # then: one event per chunk, together covering every due account; each delivered once; the run done
    chunk_events = Event.objects.filter(name=runs.CHUNK_REQUESTED, payload__run_id=run.pk).order_by("pk")
    assert [len(e.payload["account_ids"]) for e in chunk_events] == [2, 1]
    assert {pk for e in chunk_events for pk in e.payload["account_ids"]} == {
        s.billing_schedule.account_id for s in subs
    }
    assert [r.status for r in _chunk_runs(run)] == [HandlerRunStatus.SUCCEEDED] * 2
    run.refresh_from_db()
    assert (run.status, run.chunks, run.chunks_done, run.invoices) == (RunStatus.DONE, 2, 2, 3)
    assert _billed_once(subs)


def test_a_run_started_while_the_broker_is_down_completes_once_the_sweep_delivers_its_chunks(
    monkeypatch, django_capture_on_commit_callbacks
):
    # given: subscribers due, and a broker that refuses every dispatch
    from cos import tasks

    subs = _due_subscriptions(3)

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    with monkeypatch.context() as broker:
        broker.setattr(tasks.handler_run_task, "delay", broker_down)
        # when: the daily run starts
        with django_capture_on_commit_callbacks(execute=True):
            run = billing_run(as_of=APRIL, chunk_size=2)
    # then: the run and its chunks are recorded, nothing billed yet
    run.refresh_from_db()
    assert (run.status, run.chunks, run.chunks_done) == (RunStatus.RUNNING, 2, 0)
    assert [r.status for r in _chunk_runs(run)] == [HandlerRunStatus.PENDING] * 2
    assert due_account_ids(APRIL) != []
    # when: the broker is back and the events sweep runs
    with django_capture_on_commit_callbacks(execute=True):
        events.events_sweep(now=timezone.now() + timedelta(minutes=1))
    # then: every chunk billed once, the run done
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.invoices) == (RunStatus.DONE, 2, 3)
    assert run.finished_at is not None
    assert _billed_once(subs)
    assert due_account_ids(APRIL) == []


def test_a_chunk_that_fails_is_retried_and_the_run_completes(monkeypatch, django_capture_on_commit_callbacks):
    # given: the first try of a chunk fails (a database hiccup)
    subs = _due_subscriptions(2)
    real = runs.billing_chunk
    tries = []

    def first_try_fails(**kwargs):
        tries.append(kwargs["account_ids"])
        if len(tries) == 1:
            raise DatabaseError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(runs, "billing_chunk", first_try_fails)
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run(as_of=APRIL, chunk_size=1)
    run.refresh_from_db()
    assert (run.status, run.chunks_done) == (RunStatus.RUNNING, 1)
    failed = [r for r in _chunk_runs(run) if r.status == HandlerRunStatus.FAILED]
    assert len(failed) == 1
    # when: the retry is due
    with django_capture_on_commit_callbacks(execute=True):
        events.events_sweep(now=failed[0].next_attempt_at + timedelta(seconds=1))
    # then
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.invoices) == (RunStatus.DONE, 2, 2)
    assert _billed_once(subs)


def test_a_chunk_delivered_again_is_not_counted_again(django_capture_on_commit_callbacks):
    # given: a finished run
    subs = _due_subscriptions(2)
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run(as_of=APRIL, chunk_size=1)
    # when: the broker delivers one of its chunks a second time
    events.handler_run_execute(run_id=_chunk_runs(run)[0].pk)
    # then
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.invoices) == (RunStatus.DONE, 2, 2)
    assert _billed_once(subs)


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_bills_the_chunks_from_redis(celery_worker, wait_until, wait_for_quiet):
    # given: subscribers due for April (set up in-process)
    celery_worker.conf.task_always_eager = True
    subs = _due_subscriptions(3)
    celery_worker.conf.task_always_eager = False
    # when: the run starts; its chunks go to the worker through Redis
    run = billing_run(as_of=APRIL, chunk_size=2)
    # then
    wait_until(lambda: BillingRun.objects.get(pk=run.pk).status == RunStatus.DONE, message="the run done")
    wait_for_quiet()
    run.refresh_from_db()
    assert (run.chunks_done, run.invoices) == (2, 3)
    assert _billed_once(subs)
