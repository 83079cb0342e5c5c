"""Demo history: months of a network's life before today, simulated through the real chain in an area of its own
(Björkhagen), so invoices, payments, late payers, dunning, credit notes, statements, disputes and contract
exceptions are there from the first page a newcomer opens. Its size is DEMO_HISTORY_SUBSCRIBERS and
DEMO_HISTORY_MONTHS (0 subscribers: none). Made once: a database simulated already is left as it is."""

import logging

import requests
from django.conf import settings
from django.test.utils import override_settings

logger = logging.getLogger(__name__)


def _simulator_up() -> bool:
    try:
        base = settings.PROVISIONING_NOKIA_URL.rsplit("/", 1)[0]
        requests.get(f"{base}/_sim/state", timeout=2).raise_for_status()
    except requests.RequestException:
        return False
    return True


def history() -> list[str]:
    from simulation import world
    from simulation.engine import Plan, Simulation

    subscribers, months = settings.DEMO_HISTORY_SUBSCRIBERS, settings.DEMO_HISTORY_MONTHS
    if subscribers <= 0 or months <= 0 or world.area_exists():
        return []
    if not _simulator_up():
        return ["Demo history skipped: the element-manager simulator is not running (make run starts it)."]
    simulation = Simulation(Plan(subscribers=subscribers, months=months, seed=1))
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend", SMS_URL="locmem://"):
        outcome = simulation.run()
    counts = outcome.counts
    return [
        f"Demo history: {months} months ({outcome.start} to today) of {counts['orders placed']} subscribers in "
        f"{world.AREA_NAME}: {counts['field jobs worked']} field jobs, {counts['statements issued']} wholesale "
        f"statements, {counts['disputes upheld']} dispute upheld and {counts['disputes rejected']} rejected "
        "(/ops/settlement/ as 'finance'), and one of each injected fault:",
        *(f"  {note}" for note in outcome.notes),
    ]


def seed() -> list[str]:
    return []  # the history needs the demo's catalog and people, which the other apps' seed() make
