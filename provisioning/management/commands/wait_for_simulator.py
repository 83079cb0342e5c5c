"""Wait until the element-manager simulator answers (make run starts it before loading the demo)."""

import time

import requests
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Wait until the simulator on 127.0.0.1:<port> answers; exit 1 when it does not within --timeout seconds."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8101)
        parser.add_argument("--timeout", type=float, default=20.0)

    def handle(self, *args, port: int, timeout: float, **options):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/_sim/state", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise CommandError(f"the element-manager simulator did not answer on 127.0.0.1:{port} within {timeout:g} s")
