"""Serve the element-manager simulator (Adtran, Nokia and Calix API shapes) on a loopback port."""

from django.core.management.base import BaseCommand, CommandError

from cos.models import ONT
from provisioning.simulator import Simulator


class Command(BaseCommand):
    help = "Run the element-manager simulator on 127.0.0.1 (see /_sim/ for ONTs and fault injection)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8101)
        parser.add_argument("--no-inventory", action="store_true", help="Do not pre-register the ONTs in inventory.")
        parser.add_argument(
            "--auto-discover", action="store_true", help="Know every well-formed serial, as if just plugged in."
        )
        parser.add_argument(
            "--state-file", default="", help="Keep what the devices carry in this JSON file across restarts."
        )

    def handle(self, *args, port: int, no_inventory: bool, auto_discover: bool, state_file: str, **options):
        if not 1 <= port <= 65535:
            raise CommandError("--port must be between 1 and 65535")
        try:
            simulator = Simulator(port, auto_discover=auto_discover, state_file=state_file or None)
        except OSError as exc:
            raise CommandError(f"cannot listen on 127.0.0.1:{port}: {exc}") from exc
        except ValueError as exc:  # an unreadable state file
            raise CommandError(str(exc)) from exc
        if not no_inventory:
            for serial in ONT.objects.values_list("serial", flat=True):
                simulator.state.onts.setdefault(serial, {"online": True, "services": {}})
        self.stdout.write(f"element-manager simulator on {simulator.url} ({len(simulator.state.onts)} ONTs known)")
        self.stdout.write(f"  Adtran {simulator.url}/adtran  Nokia {simulator.url}/nokia  Calix {simulator.url}/calix")
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            simulator.stop()
