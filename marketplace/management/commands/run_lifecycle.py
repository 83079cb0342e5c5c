"""Do what is due in each marketplace today: notices end, switches are handed over, downgrades go to the network
(what Celery beat runs every LIFECYCLE_SWEEP_SECONDS in the full stack)."""

import time

from django.core.management.base import BaseCommand, CommandError

from marketplace.services import subscription_changes_due, subscription_terminations_due, switches_due


class Command(BaseCommand):
    help = "End due notices, hand over due switches and send due downgrades. --loop keeps doing it."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running until interrupted.")
        parser.add_argument("--interval", type=float, default=300.0, help="Seconds between runs with --loop.")

    def handle(self, *args, loop: bool, interval: float, **options):
        if interval <= 0:
            raise CommandError("--interval must be positive")
        while True:
            switched, ended, changed = switches_due(), subscription_terminations_due(), subscription_changes_due()
            if switched or ended or changed or not loop:
                self.stdout.write(
                    f"{switched} switch(es) handed over, {ended} notice(s) ended, {changed} change(s) sent"
                )
            if not loop:
                return
            time.sleep(interval)
