"""Run the network over simulated months through the real chain (see simulation.engine)."""

import logging

from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings
from django.utils import timezone
from tqdm import tqdm

from assurance.metrics import Scope, board
from cos.errors import ApplicationError
from simulation.engine import FAULTS, Plan, Simulation

BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}"


def _faults(value: str) -> frozenset:
    if value == "all":
        return frozenset(FAULTS)
    if value == "none":
        return frozenset()
    return frozenset(name.strip() for name in value.split(",") if name.strip())


class Command(BaseCommand):
    help = (
        "Run the network for --months months up to now with --subscribers new subscribers, through the services and "
        "events (orders, field work, activation on the simulator, billing, payments, dunning, changes, switches, "
        "terminations, statements, disputes), injecting --faults. Runs once, on the demo world (seed_demo first)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, required=True)
        parser.add_argument("--months", type=int, required=True)
        parser.add_argument(
            "--faults",
            default="all",
            help=f"all (default), none, or a comma-separated list of: {', '.join(FAULTS)}",
        )
        parser.add_argument("--seed", type=int, default=1, help="The same seed gives the same world.")

    def handle(self, *args, subscribers: int, months: int, faults: str, seed: int, **options):
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        try:
            simulation = Simulation(
                Plan(subscribers=subscribers, months=months, faults=_faults(faults), seed=seed),
                # The clock stands still between steps: a bar without rates or times.
                progress=lambda days: tqdm(
                    days, desc="simulated days", file=self.stderr, bar_format=BAR, mininterval=0
                ),
            )
            # The simulated subscribers are not real people: their e-mail and SMS are kept (delivered to memory).
            with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend", SMS_URL="locmem://"):
                outcome = simulation.run()
        except (ValueError, ApplicationError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Simulated {outcome.start} to {outcome.end}:"))
        for name, count in sorted(outcome.counts.items()):
            self.stdout.write(f"  {name:<36} {count}")
        for note in outcome.notes:
            self.stdout.write(f"  fault {note}")
        self.stdout.write(self.style.SUCCESS("The board (/ops/board/), the week ending now:"))
        for reading in board(Scope(), timezone.now()):
            figures = f"{reading.numerator}/{reading.denominator}" if reading.unit == "ratio" else ""
            self.stdout.write(f"  {reading.name:<36} {reading.shown:>12}  {reading.colour:<5}  {figures}")
        if options["verbosity"] > 1:
            for refusal in simulation.refusals:
                self.stdout.write(f"  refused: {refusal}")
