"""Event outbox: publish in the caller's transaction, deliver to handlers through Celery after commit.

- `publish(name, **payload)` writes the Event and one HandlerRun per registered handler in the
  caller's transaction, and asks Celery to run them once the transaction commits.
- `events_sweep()` (Celery beat) re-delivers every run that is pending past its grace time
  (a lost dispatch: broker down, worker crash) or failed and due for retry.
- `handler_run_execute()` runs one handler under a row lock, inside a savepoint, and records the
  outcome in the same transaction: a run that succeeded never runs again (at-least-once delivery,
  at-most-once effect for database work).
"""

import atexit
import logging
import os
import queue
import threading
import traceback
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from cos.choices import HandlerRunStatus
from cos.fsm import transition_apply
from cos.inserts import Rows, rows_insert
from cos.models import Event, HandlerRun

logger = logging.getLogger(__name__)

_handlers: dict[str, list[str]] = defaultdict(list)


def handler(event_name: str) -> Callable:
    """Register the decorated function `fn(event: Event)` as a handler of `event_name`."""

    def register(fn: Callable) -> Callable:
        path = f"{fn.__module__}.{fn.__qualname__}"
        if path not in _handlers[event_name]:
            _handlers[event_name].append(path)
        return fn

    return register


def handlers_for(event_name: str) -> list[str]:
    return list(_handlers.get(event_name, ()))


def unregister(event_name: str, path: str) -> None:
    if path in _handlers.get(event_name, ()):
        _handlers[event_name].remove(path)


def publish(name: str, **payload) -> Event:
    """Record event `name` in the caller's transaction; its handlers run after commit (or via the sweep)."""
    event = Event(name=name, payload=payload)
    grace = timezone.now() + timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS)
    runs = [HandlerRun(event=event, handler=path, next_attempt_at=grace) for path in handlers_for(name)]
    rows_insert([Rows([event]), Rows(runs, {"event_id": 0})])  # one statement on PostgreSQL
    if runs:
        run_ids = [run.pk for run in runs]
        transaction.on_commit(partial(handler_runs_dispatch, run_ids), robust=True)
    return event


def handler_runs_dispatch(run_ids: list[int]) -> None:
    """After commit: hand the runs to Celery. Eager Celery (the demo, unit tests) runs them right here; with a
    broker, the process's dispatch thread sends them, so the request that committed them answers without waiting
    for the broker (a run the thread never sends, say because the process exits, is sent by the sweep)."""
    from cos.celery import app

    if app.conf.task_always_eager:
        handler_runs_enqueue(run_ids)
    else:
        _dispatcher.submit(run_ids)


class _Dispatcher:
    """One daemon thread per process that sends handler runs to the broker, in the order they committed."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def submit(self, run_ids: list[int]) -> None:
        if self._pid != os.getpid():  # first use in this process (a forked server worker starts its own)
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.SimpleQueue()
                    threading.Thread(target=self._loop, name="cos-events-dispatch", daemon=True).start()
                    atexit.register(self.flush)
                    self._pid = os.getpid()
        self._queue.put(run_ids)

    def _loop(self) -> None:
        while True:
            handler_runs_enqueue(self._queue.get())

    def flush(self) -> None:
        """Send what is still queued (at exit: a command that published just before it ends)."""
        while True:
            try:
                run_ids = self._queue.get_nowait()
            except queue.Empty:
                return
            handler_runs_enqueue(run_ids)


_dispatcher = _Dispatcher()


def handler_runs_enqueue(run_ids: list[int]) -> None:
    """Hand handler runs to Celery. Failing to reach the broker loses nothing: the sweep retries."""
    from cos.tasks import handler_run_task

    for run_id in run_ids:
        try:
            handler_run_task.delay(run_id)
        except Exception:  # noqa: BLE001 - the run stays pending and the sweep delivers it
            logger.warning("could not hand handler run %s to the broker; the sweep will retry", run_id, exc_info=True)


def _backoff(attempts: int) -> timedelta:
    seconds = min(settings.EVENTS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.EVENTS_RETRY_MAX_SECONDS)
    return timedelta(seconds=seconds)


def handler_run_execute(*, run_id: int) -> HandlerRun | None:
    """Run one handler for one event, once. Safe to call any number of times for the same run."""
    with transaction.atomic():
        run = HandlerRun.objects.select_for_update().select_related("event").filter(pk=run_id).first()
        if run is None or run.status not in (HandlerRunStatus.PENDING, HandlerRunStatus.FAILED):
            return run
        now = timezone.now()
        try:
            fn = import_string(run.handler)
            with transaction.atomic():
                fn(run.event)
        except Exception:  # noqa: BLE001 - any handler failure is recorded and retried
            error = traceback.format_exc(limit=20)
            logger.warning("handler %s failed for event %s (attempt %s)", run.handler, run.event_id, run.attempts + 1)
            if run.attempts + 1 >= settings.EVENTS_MAX_ATTEMPTS:
                transition_apply(run, "give_up", error=error, at=now)
            else:
                transition_apply(run, "fail", error=error, retry_at=now + _backoff(run.attempts + 1))
        else:
            transition_apply(run, "succeed", at=now)
        run.save()
        return run


def events_sweep(*, now=None, limit: int = 1000) -> int:
    """Re-deliver handler runs that are due: pending past their grace time, or failed and due for retry."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            HandlerRun.objects.filter(
                status__in=[HandlerRunStatus.PENDING, HandlerRunStatus.FAILED], next_attempt_at__lte=now
            )
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not due:
            return 0
        # Push the next sweep of these runs out, so a backlog is not enqueued again and again.
        grace = now + timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS)
        HandlerRun.objects.filter(pk__in=due, status=HandlerRunStatus.PENDING).update(next_attempt_at=grace)
        transaction.on_commit(partial(handler_runs_enqueue, due), robust=True)
    return len(due)


@transaction.atomic
def handler_run_requeue(*, run_id: int, actor=None) -> HandlerRun:
    """An operator retries a failed or dead handler run now."""
    run = HandlerRun.objects.select_for_update().get(pk=run_id)
    transition_apply(run, "requeue", by=actor, at=timezone.now())
    run.save()
    transaction.on_commit(partial(handler_runs_enqueue, [run.pk]), robust=True)
    return run
