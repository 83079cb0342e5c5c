"""Re-deliver event handler runs that are due (what Celery beat does in the full stack)."""

import time

from django.core.management.base import BaseCommand

from cos.events import events_sweep


class Command(BaseCommand):
    help = "Re-deliver pending or failed event handler runs that are due. --loop keeps doing it."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep sweeping until interrupted.")
        parser.add_argument("--interval", type=float, default=10.0, help="Seconds between sweeps with --loop.")

    def handle(self, *args, loop: bool, interval: float, **options):
        if interval <= 0:
            self.stderr.write("--interval must be positive")
            raise SystemExit(2)
        while True:
            count = events_sweep()
            if count or not loop:
                self.stdout.write(f"re-delivered {count} handler run(s)")
            if not loop:
                return
            time.sleep(interval)
