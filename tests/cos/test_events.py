"""The transactional outbox: delivery after commit, redelivery, idempotency, rollback, retries."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from cos import events
from cos.choices import HandlerRunStatus
from cos.models import Event, HandlerRun, Organization
from tests.cos import handlers_for_tests

pytestmark = pytest.mark.django_db

RECORD = "tests.cos.handlers_for_tests.record"
FLAKY = "tests.cos.handlers_for_tests.flaky"


@pytest.fixture(autouse=True)
def test_handlers():
    handlers_for_tests.calls.clear()
    handlers_for_tests.failures_left["count"] = 0
    events.handler("test.happened")(handlers_for_tests.record)
    events.handler("test.flaky")(handlers_for_tests.flaky)
    yield
    events.unregister("test.happened", RECORD)
    events.unregister("test.flaky", FLAKY)


def _effects() -> int:
    return Organization.objects.filter(slug__startswith="event-").count()


def test_event_is_delivered_after_commit(django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        event = events.publish("test.happened", order_id=7)
        # then: nothing runs inside the transaction
        assert handlers_for_tests.calls == []
    # then
    assert len(callbacks) == 1
    assert handlers_for_tests.calls == [event.pk]
    run = HandlerRun.objects.get(event=event)
    assert (run.status, run.attempts) == (HandlerRunStatus.SUCCEEDED, 1)
    assert _effects() == 1


def test_nothing_is_delivered_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    # when
    def failing_business_action():
        with transaction.atomic():
            events.publish("test.happened", order_id=7)
            raise RuntimeError("the business action failed")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        failing_business_action()
    # then
    assert callbacks == []
    assert not Event.objects.exists()
    assert not HandlerRun.objects.exists()
    assert handlers_for_tests.calls == []


def test_a_lost_dispatch_is_redelivered_by_the_sweep(django_capture_on_commit_callbacks):
    # given: the event is committed but the after-commit dispatch never happens (broker down, crash)
    with django_capture_on_commit_callbacks(execute=False):
        event = events.publish("test.happened", order_id=7)
    assert handlers_for_tests.calls == []
    # when: the sweep runs before the grace time, nothing is due yet
    with django_capture_on_commit_callbacks(execute=True):
        assert events.events_sweep() == 0
    # when: the sweep runs after the grace time
    later = timezone.now() + timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        assert events.events_sweep(now=later) == 1
    # then
    assert handlers_for_tests.calls == [event.pk]
    assert HandlerRun.objects.get(event=event).status == HandlerRunStatus.SUCCEEDED


def test_a_handler_delivered_twice_runs_once(django_capture_on_commit_callbacks):
    # given
    with django_capture_on_commit_callbacks(execute=True):
        event = events.publish("test.happened", order_id=7)
    run = HandlerRun.objects.get(event=event)
    # when: the same run is delivered again (at-least-once delivery), also via a late sweep
    events.handler_run_execute(run_id=run.pk)
    with django_capture_on_commit_callbacks(execute=True):
        events.events_sweep(now=timezone.now() + timedelta(hours=1))
    # then
    assert handlers_for_tests.calls == [event.pk]
    assert _effects() == 1
    run.refresh_from_db()
    assert run.attempts == 1


def test_each_handler_of_an_event_gets_its_own_run(django_capture_on_commit_callbacks):
    # given
    events.handler("test.happened")(handlers_for_tests.flaky)
    try:
        # when
        with django_capture_on_commit_callbacks(execute=True):
            event = events.publish("test.happened")
    finally:
        events.unregister("test.happened", FLAKY)
    # then
    assert set(HandlerRun.objects.filter(event=event).values_list("handler", flat=True)) == {RECORD, FLAKY}
    assert set(HandlerRun.objects.values_list("status", flat=True)) == {HandlerRunStatus.SUCCEEDED}


def test_a_failing_handler_is_retried_with_backoff_and_leaves_nothing_half_written(
    django_capture_on_commit_callbacks, settings
):
    # given: the handler fails twice, then works
    settings.EVENTS_RETRY_BASE_SECONDS = 10
    handlers_for_tests.failures_left["count"] = 2
    # when
    with django_capture_on_commit_callbacks(execute=True):
        event = events.publish("test.flaky")
    # then: a failed run, visible with its error, retry scheduled 10 s out
    run = HandlerRun.objects.get(event=event)
    assert run.status == HandlerRunStatus.FAILED
    assert "downstream system unavailable" in run.last_error
    first_retry_at = run.next_attempt_at
    assert timedelta(seconds=9) < first_retry_at - timezone.now() <= timedelta(seconds=10)
    assert not Organization.objects.filter(name="half-written").exists()
    # when: the sweep runs at the retry time, it fails again and backs off further (20 s)
    with django_capture_on_commit_callbacks(execute=True):
        events.events_sweep(now=first_retry_at)
    run.refresh_from_db()
    assert (run.status, run.attempts) == (HandlerRunStatus.FAILED, 2)
    assert timedelta(seconds=19) < run.next_attempt_at - timezone.now() <= timedelta(seconds=20)
    # when: the third try
    with django_capture_on_commit_callbacks(execute=True):
        events.events_sweep(now=run.next_attempt_at)
    # then
    run.refresh_from_db()
    assert (run.status, run.attempts, run.last_error) == (HandlerRunStatus.SUCCEEDED, 3, "")
    assert handlers_for_tests.calls == [event.pk]


def test_a_handler_that_keeps_failing_goes_dead_and_can_be_requeued(django_capture_on_commit_callbacks, settings):
    # given
    settings.EVENTS_MAX_ATTEMPTS = 2
    handlers_for_tests.failures_left["count"] = 5
    with django_capture_on_commit_callbacks(execute=True):
        event = events.publish("test.flaky")
    run = HandlerRun.objects.get(event=event)
    with django_capture_on_commit_callbacks(execute=True):
        events.events_sweep(now=timezone.now() + timedelta(hours=2))
    run.refresh_from_db()
    assert run.status == HandlerRunStatus.DEAD
    # when: a dead run is never swept again
    with django_capture_on_commit_callbacks(execute=True):
        assert events.events_sweep(now=timezone.now() + timedelta(days=1)) == 0
    # when: an operator fixes the cause and retries it
    handlers_for_tests.failures_left["count"] = 0
    with django_capture_on_commit_callbacks(execute=True):
        events.handler_run_requeue(run_id=run.pk)
    # then
    run.refresh_from_db()
    assert run.status == HandlerRunStatus.SUCCEEDED
    assert handlers_for_tests.calls == [event.pk]


def test_an_event_without_handlers_is_recorded(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = events.publish("nobody.listens", x=1)
    assert Event.objects.get(pk=event.pk).payload == {"x": 1}
    assert callbacks == []


def test_a_broker_failure_after_commit_loses_nothing(django_capture_on_commit_callbacks, monkeypatch):
    # given: the broker refuses the dispatch
    from cos import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.handler_run_task, "delay", broker_down)
    # when: the business action still commits
    with django_capture_on_commit_callbacks(execute=True):
        event = events.publish("test.happened")
    # then: the run waits for the sweep
    run = HandlerRun.objects.get(event=event)
    assert run.status == HandlerRunStatus.PENDING
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        events.events_sweep(now=timezone.now() + timedelta(minutes=1))
    run.refresh_from_db()
    assert run.status == HandlerRunStatus.SUCCEEDED


@pytest.mark.celery_worker
def test_a_real_worker_delivers_events_once(celery_worker, wait_until):
    # when: two events are committed; a real worker takes them from Redis
    with transaction.atomic():
        first = events.publish("test.happened", n=1)
        second = events.publish("test.happened", n=2)
    # then
    wait_until(
        lambda: HandlerRun.objects.filter(status=HandlerRunStatus.SUCCEEDED).count() == 2, message="both handler runs"
    )
    assert set(Organization.objects.filter(slug__startswith="event-").values_list("slug", flat=True)) == {
        f"event-{first.pk}",
        f"event-{second.pk}",
    }
    assert HandlerRun.objects.filter(attempts=1).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deliveries_of_one_run_apply_once():
    # given: a committed event whose run has not been delivered yet
    import threading

    from django.db import connection

    event = Event.objects.create(name="test.happened", payload={})
    run = HandlerRun.objects.create(event=event, handler=RECORD, next_attempt_at=timezone.now())
    barrier = threading.Barrier(2)
    errors = []

    def deliver():
        try:
            barrier.wait()
            events.handler_run_execute(run_id=run.pk)
        except Exception as exc:  # pragma: no cover - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    # when: two workers take the same run at the same moment
    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: the row lock lets one run it; the other sees it succeeded
    assert errors == []
    assert _effects() == 1
    run.refresh_from_db()
    assert (run.status, run.attempts) == (HandlerRunStatus.SUCCEEDED, 1)


class _Broker:
    """Stands in for Celery's `delay`: records what was sent, from which thread, and can hold the sender."""

    def __init__(self) -> None:
        import threading

        self.sent, self.threads = [], []
        self.arrived, self.release = threading.Event(), threading.Event()
        self.release.set()

    def delay(self, run_id) -> None:
        import threading

        self.release.wait(timeout=10)
        self.sent.append(run_id)
        self.threads.append(threading.current_thread().name)
        self.arrived.set()


@pytest.fixture
def broker(monkeypatch):
    """A broker behind a non-eager Celery, as in production."""
    from cos import tasks
    from cos.celery import app

    fake = _Broker()
    monkeypatch.setattr(tasks.handler_run_task, "delay", fake.delay)
    app.conf.task_always_eager = False  # the autouse _celery_mode fixture puts it back
    return fake


def test_with_a_broker_the_committing_request_does_not_wait_for_it(broker, django_capture_on_commit_callbacks):
    # given: a broker that takes its time
    broker.release.clear()

    # when: an event commits
    with django_capture_on_commit_callbacks(execute=True):
        event = events.publish("test.happened")

    # then: the caller is back while the broker still holds the run; the dispatch thread sends it after
    run = HandlerRun.objects.get(event=event)
    assert broker.sent == []
    broker.release.set()
    assert broker.arrived.wait(timeout=10)
    assert broker.sent == [run.pk]
    assert broker.threads == ["cos-events-dispatch"]


def test_runs_still_queued_when_the_process_exits_are_sent_by_the_exit_flush(broker):
    # given: a dispatcher whose queue still holds two commits' runs (its thread never got to them)
    dispatcher = events._Dispatcher()
    dispatcher._queue.put([101])
    dispatcher._queue.put([102, 103])

    # when: the process exits (the flush registered at exit)
    dispatcher.flush()

    # then: all are sent, in commit order, and a second flush sends nothing again
    dispatcher.flush()
    assert broker.sent == [101, 102, 103]
