"""Run the periodic jobs of Celery beat's schedule in this process (make run has no broker, so no beat)."""

import logging
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from cos.periodic import UnknownJob, jobs_run_due, periodic_jobs, seconds_until_next


class Command(BaseCommand):
    help = (
        "Run the jobs of the beat schedule (CELERY_BEAT_SCHEDULE): cycle billing, draft finalization, the payment "
        "sweep, contract sync, the event and provisioning sweeps, the lifecycle sweep. --once runs each once; "
        "--loop runs each at once, then on its schedule, until interrupted."
    )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--once", action="store_true", help="Run every job once, then exit (1 if one failed).")
        mode.add_argument("--loop", action="store_true", help="Keep running the jobs on their schedules.")
        parser.add_argument(
            "--only", action="append", default=[], metavar="NAME", help="Run only this job (repeatable)."
        )
        parser.add_argument(
            "--max-wait", type=float, default=5.0, help="With --loop: look at the schedule at least this often (s)."
        )

    def handle(self, *args, once: bool, loop: bool, only: list[str], max_wait: float, **options):
        if max_wait <= 0:
            raise CommandError("--max-wait must be positive")
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # not a line per task run in this process
        try:
            jobs = periodic_jobs(only)
        except UnknownJob as exc:
            raise CommandError(str(exc)) from exc
        # Jobs that run more than once a minute are reported only when they did something.
        frequent = {job.name: getattr(job.schedule, "seconds", 3600) < 60 for job in jobs}
        if loop:
            self.stdout.write("periodic jobs: " + ", ".join(f"{job.name} ({job.describe()})" for job in jobs))
        try:
            self._run(jobs, once=once, frequent=frequent, max_wait=max_wait)
        except KeyboardInterrupt:  # make run's Ctrl-C
            return

    def _run(self, jobs, *, once: bool, frequent: dict[str, bool], max_wait: float) -> None:
        while True:
            outcomes = jobs_run_due(jobs)
            for outcome in outcomes:
                if not outcome.ok:
                    self.stderr.write(f"{outcome.name}: failed: {outcome.error} (tried again at its next time)")
                elif once or outcome.result or not frequent[outcome.name]:  # not every idle sweep
                    done = "" if outcome.result is None else f": {outcome.result}"
                    self.stdout.write(f"{outcome.name}: done in {outcome.seconds:.1f} s{done}")
            if once:
                if not all(outcome.ok for outcome in outcomes):
                    raise SystemExit(1)
                return
            time.sleep(min(max(seconds_until_next(jobs), 0.5), max_wait))
            # A long-lived process: drop a connection that a failed job broke or that the database closed meanwhile.
            close_old_connections()
