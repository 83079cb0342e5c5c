"""The periodic jobs, run without Celery beat: what `make run` (no broker, eager Celery) does instead of beat.

The jobs and their schedules are Celery beat's own (`CELERY_BEAT_SCHEDULE` in the settings): each entry's task
runs in this process, on the entry's schedule (an interval in seconds, or a crontab). Every job runs once when the
runner starts, so what fell due while nothing ran (the demo was stopped overnight) is caught up at once; after
that each runs when its schedule says. A job that raises is logged and retried at its next time; the others run.
"""

import importlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from celery.schedules import BaseSchedule, maybe_schedule
from django.conf import settings

logger = logging.getLogger(__name__)


class UnknownJob(Exception):
    """A job name that the beat schedule does not have, or a schedule entry whose task is not registered."""


@dataclass
class PeriodicJob:
    """One entry of the beat schedule, with when it last ran in this process."""

    name: str
    task_name: str
    schedule: BaseSchedule
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    last_run_at: datetime | None = None

    def describe(self) -> str:
        seconds = getattr(self.schedule, "seconds", None)
        if seconds is not None:
            return f"every {seconds:g} s"
        fields = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
        cron = " ".join(str(getattr(self.schedule, f"_orig_{name}", "?")) for name in fields)
        return f"crontab {cron}, {self.schedule.tz}"  # "crontab 0 1 * * *, UTC": at 01:00 every day

    def seconds_until_due(self) -> float:
        """0 when due (or never run here), else the seconds to wait."""
        if self.last_run_at is None:
            return 0.0
        return max(self.schedule.remaining_estimate(self.last_run_at).total_seconds(), 0.0)


@dataclass
class JobOutcome:
    name: str
    ok: bool
    result: object = None
    error: str = ""
    seconds: float = 0.0


def periodic_jobs(only: list[str] | None = None) -> list[PeriodicJob]:
    """The beat schedule's entries as jobs (all, or the named ones). Refused as a whole when a name is unknown or
    an entry names a task that is not registered."""
    from cos.celery import app

    schedule = settings.CELERY_BEAT_SCHEDULE
    unknown = sorted(set(only or ()) - set(schedule))
    if unknown:
        raise UnknownJob(f"not in the beat schedule: {', '.join(unknown)} (known: {', '.join(sorted(schedule))})")
    jobs = []
    for name, entry in schedule.items():
        if only and name not in only:
            continue
        if not _task_registered(app, entry["task"]):
            raise UnknownJob(f"{name}: task {entry['task']} is not registered")
        jobs.append(
            PeriodicJob(
                name=name,
                task_name=entry["task"],
                schedule=maybe_schedule(entry["schedule"], app=app),
                args=tuple(entry.get("args", ())),
                kwargs=dict(entry.get("kwargs", {})),
            )
        )
    return jobs


def _task_registered(app, task_name: str) -> bool:
    """Whether the task is known, importing the module its name comes from (a shared task's name is its module's
    path and its function's name), as the worker's autodiscovery would."""
    if task_name not in app.tasks:
        try:
            importlib.import_module(task_name.rpartition(".")[0])
        except ImportError:
            return False
    return task_name in app.tasks


def job_run(job: PeriodicJob) -> JobOutcome:
    """Run the job's task here and now (as an eager task: what it enqueues follows the settings). Never raises:
    a failure is logged with its traceback and returned."""
    from cos.celery import app

    job.last_run_at = job.schedule.now()
    started = time.monotonic()
    try:
        result = app.tasks[job.task_name].apply(args=job.args, kwargs=job.kwargs, throw=True).get()
    except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
        logger.exception("periodic job %s (%s) failed", job.name, job.task_name)
        return JobOutcome(job.name, ok=False, error=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - started)
    return JobOutcome(job.name, ok=True, result=result, seconds=time.monotonic() - started)


def jobs_run_due(jobs: list[PeriodicJob]) -> list[JobOutcome]:
    """Run every job that is due, one after the other, in the schedule's order."""
    return [job_run(job) for job in jobs if job.seconds_until_due() <= 0]


def seconds_until_next(jobs: list[PeriodicJob]) -> float:
    return min((job.seconds_until_due() for job in jobs), default=60.0)
