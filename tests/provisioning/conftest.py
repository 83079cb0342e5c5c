"""Shared set-up of the provisioning tests: the simulator on loopback and an ordered, installed address."""

import pytest
import requests
from django.utils import timezone

from cos import events
from marketplace import services as marketplace_services
from provisioning.models import ServiceInstance
from provisioning.simulator import Simulator
from tests.cos.factories import OLTFactory, ONTFactory, PonPortFactory
from tests.marketplace.factories import world


def fault(sim, **fault):
    assert requests.post(f"{sim.url}/_sim/faults", json=fault, timeout=5).status_code == 201


def request_provisioning(w, capture):
    """What closing the provisioning-trigger task publishes."""
    with capture(execute=True):
        events.publish("workorder.provisioning_requested", address_id=w.address.pk, work_order_id=0, task_id=0)


@pytest.fixture(scope="module")
def running_simulator():
    sim = Simulator(0).start()
    yield sim
    sim.stop()


@pytest.fixture
def simulator(running_simulator, settings):
    requests.post(f"{running_simulator.url}/_sim/reset", timeout=5)
    for vendor in ("adtran", "nokia", "calix"):
        setattr(settings, f"PROVISIONING_{vendor.upper()}_URL", f"{running_simulator.url}/{vendor}")
    settings.PROVISIONING_TIMEOUT_SECONDS = 0.5
    settings.PROVISIONING_RETRY_BASE_SECONDS = 1
    return running_simulator


@pytest.fixture
def ordered(simulator, django_capture_on_commit_callbacks):
    """A connected address with an accepted internet order, an ONT bound there on an OLT of the given vendor."""

    def make(vendor="adtran", *, known=True, bound=True):
        w = world()
        with django_capture_on_commit_callbacks(execute=True):
            marketplace_services.order_place(request=w.request())
        prefix = {"adtran": "ADTN", "nokia": "ALCL", "calix": "CXNK"}[vendor]
        ont = ONTFactory(
            serial=f"{prefix}{w.address.pk % 0xFFFFFFFF:08X}",
            vendor=vendor,
            pon_port=PonPortFactory(olt=OLTFactory(vendor=vendor)),
            address=w.address if bound else None,
            bound_at=timezone.now() if bound else None,
        )
        if known:
            requests.post(f"{simulator.url}/_sim/onts", json={"serial": ont.serial}, timeout=5)
        return w, ont, ServiceInstance.objects.get(address=w.address)

    return make
