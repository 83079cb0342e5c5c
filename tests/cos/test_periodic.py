"""run_periodic: the jobs of Celery beat's schedule run in-process on their schedules (make run has no beat)."""

import logging
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import CommandError, call_command

from cos.periodic import jobs_run_due, periodic_jobs
from tests.cos import periodic_tasks_for_tests as recorded

pytestmark = pytest.mark.django_db

TASKS = "tests.cos.periodic_tasks_for_tests"


@pytest.fixture
def schedule(settings):
    recorded.calls.clear()

    def use(**entries):
        settings.CELERY_BEAT_SCHEDULE = {
            name: {"task": f"{TASKS}.{task}", "schedule": every} for name, (task, every) in entries.items()
        }

    return use


def test_once_runs_every_job_of_the_real_beat_schedule(capsys):
    # when
    call_command("run_periodic", "--once")
    # then: each entry ran, none failed
    out = capsys.readouterr().out
    for name in settings.CELERY_BEAT_SCHEDULE:
        assert f"{name}: done" in out
    assert {"billing-daily", "contract-sync", "payments-sweep", "invoices-finalize-due"} <= set(
        settings.CELERY_BEAT_SCHEDULE
    )


def test_once_runs_each_job_once(schedule, capsys):
    # given
    schedule(first=("record_a_task", 15.0), second=("record_b_task", crontab(hour=1, minute=0)))
    # when
    call_command("run_periodic", "--once")
    # then
    assert recorded.calls == ["a", "b"]
    out = capsys.readouterr().out
    assert "first: done" in out
    assert ": 3" in out
    assert "second: done" in out


def test_a_job_that_raises_is_logged_and_the_others_still_run(schedule, caplog, capsys):
    # given: the middle job fails
    schedule(first=("record_a_task", 15.0), broken=("broken_task", 60.0), last=("record_b_task", 60.0))
    # when
    with caplog.at_level(logging.ERROR, logger="cos.periodic"), pytest.raises(SystemExit) as exit_:
        call_command("run_periodic", "--once")
    # then: every job ran, the failure is logged with its traceback, and the exit status says so
    assert recorded.calls == ["a", "broken", "b"]
    (record,) = [r for r in caplog.records if r.name == "cos.periodic"]
    assert "broken" in record.getMessage()
    assert record.exc_info[0] is ConnectionError
    assert "broken: failed: ConnectionError: the gateway is unreachable" in capsys.readouterr().err
    assert exit_.value.code == 1


def test_jobs_run_again_only_when_their_schedule_says(schedule):
    # given: jobs that have just run
    schedule(often=("record_a_task", 15.0), nightly=("record_b_task", crontab(hour=1, minute=0)))
    jobs = periodic_jobs()
    jobs_run_due(jobs)
    recorded.calls.clear()
    # when: at once again
    assert jobs_run_due(jobs) == []
    # when: the interval has passed for one, and the nightly one last ran two days ago
    often, nightly = jobs
    often.last_run_at -= timedelta(seconds=16)
    nightly.last_run_at -= timedelta(days=2)
    outcomes = jobs_run_due(jobs)
    # then
    assert [o.name for o in outcomes] == ["often", "nightly"]
    assert all(o.ok for o in outcomes)
    assert recorded.calls == ["a", "b"]
    assert 0 < often.seconds_until_due() <= 15
    assert 0 < nightly.seconds_until_due() <= 24 * 3600


def test_only_runs_the_named_jobs(schedule):
    schedule(first=("record_a_task", 15.0), second=("record_b_task", 15.0))
    call_command("run_periodic", "--once", "--only", "second")
    assert recorded.calls == ["b"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--once", "--only", "no-such-job"], "not in the beat schedule: no-such-job"),
        (["--once", "--max-wait", "0"], "--max-wait must be positive"),
        (["--once", "--loop"], "not allowed with argument"),
        ([], "one of the arguments --once --loop is required"),
    ],
)
def test_bad_arguments_are_refused(args, message, schedule):
    schedule(first=("record_a_task", 15.0))
    with pytest.raises(CommandError, match=message):
        call_command("run_periodic", *args)
    assert recorded.calls == []


def test_a_schedule_entry_naming_an_unknown_task_is_refused(settings):
    settings.CELERY_BEAT_SCHEDULE = {"typo": {"task": "billing.tasks.no_such_task", "schedule": 60.0}}
    with pytest.raises(CommandError, match="typo: task billing.tasks.no_such_task is not registered"):
        call_command("run_periodic", "--once")


def test_bad_arguments_exit_non_zero_from_the_shell(tmp_path):
    # when (a database of its own: the project's db.sqlite3 is make run's)
    done = subprocess.run(
        [sys.executable, "manage.py", "run_periodic", "--once", "--only", "no-such-job"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then
    assert done.returncode != 0
    assert "not in the beat schedule" in done.stderr


def test_loop_runs_every_job_at_start_then_waits_for_the_next_one_due(schedule, monkeypatch, capsys):
    # given: stop the loop where it would first sleep (as Ctrl-C would)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        raise KeyboardInterrupt

    monkeypatch.setattr("cos.management.commands.run_periodic.time.sleep", sleep)
    schedule(often=("record_a_task", 15.0), nightly=("record_b_task", crontab(hour=1, minute=0)))
    # when
    call_command("run_periodic", "--loop", "--max-wait", "5")
    # then: both ran at start; it waits at most --max-wait before it looks again
    assert recorded.calls == ["a", "b"]
    assert waits == [5.0]
    out = capsys.readouterr().out
    assert "periodic jobs: often (every 15 s), nightly (crontab 0 1 * * *, UTC)" in out
    assert "often: done" in out  # a frequent job is reported when it did something (it returned 3)
    assert "nightly: done" in out
