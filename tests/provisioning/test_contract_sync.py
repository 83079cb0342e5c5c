"""Contract synchronization: each kind of difference between what is sold and what the network delivers."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from cos.models import TransitionLog
from marketplace import services as marketplace_services
from marketplace.models import Subscription
from provisioning.adapters import adapter_for
from provisioning.choices import ExceptionKind, ExceptionStatus, ServiceStatus
from provisioning.jobs import service_spec
from provisioning.models import ContractException, ServiceInstance
from provisioning.simulator import Simulator
from provisioning.sync import contract_exception_resolve, contract_sync
from tests.cos.factories import AddressFactory, OLTFactory, ONTFactory, PonPortFactory
from tests.marketplace.factories import world
from tests.provisioning.conftest import request_provisioning

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(ordered, django_capture_on_commit_callbacks):
    """An active, billed service on a simulated Adtran ONT."""
    w, ont, service = ordered("adtran")
    request_provisioning(w, django_capture_on_commit_callbacks)
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    return w, ont, service


def _open():
    return sorted(ContractException.objects.filter(status="open").values_list("kind", "severity"))


def test_a_service_matching_its_contract_raises_nothing(live):
    result = contract_sync()
    assert result.onts_read == 1
    assert _open() == []


def test_billed_but_inactive_is_found_once_however_often_the_sync_runs(live):
    # given: the service disappears from the network
    w, ont, service = live
    adapter_for("adtran").deactivate(service_spec(service))
    # when
    contract_sync()
    contract_sync()
    # then
    assert _open() == [(ExceptionKind.BILLED_INACTIVE, "red")]


def test_active_but_unbilled_is_found(live):
    w, ont, service = live
    Subscription.objects.filter(pk=service.subscription_id).update(status="cancelled")
    contract_sync()
    assert _open() == [(ExceptionKind.ACTIVE_UNBILLED, "red")]


def test_a_profile_mismatch_is_found(live):
    from dataclasses import replace

    w, ont, service = live
    adapter_for("adtran").modify(replace(service_spec(service), download_mbps=100, upload_mbps=100))
    contract_sync()
    assert _open() == [(ExceptionKind.PROFILE_MISMATCH, "amber")]
    assert "100/100" in ContractException.objects.get().detail


def test_an_unbound_device_is_found_and_blocks_billing(live):
    w, ont, service = live
    ont.address = AddressFactory(area=w.area, status="connected")
    ont.save()
    contract_sync()
    assert (ExceptionKind.DEVICE_UNBOUND, "red") in _open()
    service.refresh_from_db()
    assert service.billing_blocked


def test_an_ont_taken_off_its_address_after_a_swap_is_found_and_blocks_billing(live):
    from django.core.exceptions import ValidationError

    from cos import inventory

    w, ont, service = live
    with pytest.raises(ValidationError, match="Say why"):
        inventory.ont_unbind(serial=ont.serial, reason=" ")
    with pytest.raises(ValidationError, match="not in the inventory"):
        inventory.ont_unbind(serial="ADTN00000000", reason="swapped")
    inventory.ont_unbind(serial=ont.serial, reason="swapped: back to the depot")
    ont.refresh_from_db()
    assert (ont.address_id, ont.bound_at, ont.pon_port_id is not None) == (None, None, True)  # in stock
    contract_sync()
    assert (ExceptionKind.DEVICE_UNBOUND, "red") in _open()
    service.refresh_from_db()
    assert service.billing_blocked


def test_a_service_without_an_order_is_found(live):
    from dataclasses import replace

    w, ont, service = live
    adapter_for("adtran").activate(replace(service_spec(service), service_id="rogue-1"))
    contract_sync()
    assert _open() == [(ExceptionKind.ACTIVATION_WITHOUT_ORDER, "amber")]


def test_an_exception_is_resolved_with_a_reason_code_and_audited(live, django_user_model):
    # given
    w, ont, service = live
    adapter_for("adtran").deactivate(service_spec(service))
    contract_sync()
    exception = ContractException.objects.get()
    operator = django_user_model.objects.create_user("ops-x")
    # when: a bad code is refused, a good one resolves
    with pytest.raises(ValidationError):
        contract_exception_resolve(exception_id=exception.pk, code="because", actor=operator)
    contract_exception_resolve(exception_id=exception.pk, code="network_corrected", actor=operator, note="re-pushed")
    # then
    exception.refresh_from_db()
    assert (exception.status, exception.resolution_code) == (ExceptionStatus.RESOLVED, "network_corrected")
    log = TransitionLog.objects.get(object_id=exception.pk, content_type__model="contractexception")
    assert (log.actor, log.reason) == (operator, "re-pushed")
    # and: if the problem is still there, the next sync opens a new exception
    contract_sync()
    assert _open() == [(ExceptionKind.BILLED_INACTIVE, "red")]


def test_an_unreachable_element_manager_is_reported_not_guessed(live, simulator):
    from tests.provisioning.conftest import fault

    fault(simulator, kind="error_5xx")
    result = contract_sync()
    assert result.unreachable
    assert _open() == []


# --- the simulator's state across restarts, and a sync after it lost it ---------------------------------------


@pytest.fixture
def restartable(tmp_path, settings):
    """An element-manager simulator keeping its state in a file (as make run starts it); restart() stops it and
    starts a new one on the same file, forget() deletes the file first (a lost state)."""

    class Restartable:
        state_file = tmp_path / "simulator-state.json"

        def start(self):
            self.sim = Simulator(0, auto_discover=True, state_file=self.state_file).start()
            for vendor in ("adtran", "nokia", "calix"):
                setattr(settings, f"PROVISIONING_{vendor.upper()}_URL", f"{self.sim.url}/{vendor}")

        def restart(self, *, forget=False):
            self.sim.stop()
            if forget:
                self.state_file.unlink()
            self.start()

    settings.PROVISIONING_TIMEOUT_SECONDS = 0.5
    restartable = Restartable()
    restartable.start()
    yield restartable
    restartable.sim.stop()


@pytest.fixture
def live_on_restartable(restartable, django_capture_on_commit_callbacks):
    """An active, billed service on a Nokia ONT of the restartable simulator."""
    w = world()
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.order_place(request=w.request())
    ONTFactory(
        serial=f"ALCL{w.address.pk:08X}",
        vendor="nokia",
        pon_port=PonPortFactory(olt=OLTFactory(vendor="nokia")),
        address=w.address,
        bound_at=timezone.now(),
    )
    request_provisioning(w, django_capture_on_commit_callbacks)
    service = ServiceInstance.objects.get(address=w.address)
    assert service.status == ServiceStatus.ACTIVE
    return service


def test_the_simulator_keeps_what_the_devices_carry_across_a_restart(live_on_restartable, restartable):
    # given
    serial = live_on_restartable.ont.serial
    before = adapter_for("nokia").read_state(serial)
    assert before.services
    # when
    restartable.restart()
    # then: the same services, with the time each was activated
    assert adapter_for("nokia").read_state(serial).services == before.services
    assert serial in json.loads(restartable.state_file.read_text())["onts"]
    assert contract_sync().found == {}


def test_a_sync_after_the_simulator_lost_its_state_opens_an_exception(live_on_restartable, restartable, capsys):
    # given: the element manager comes back without what its devices carried
    restartable.restart(forget=True)
    # when
    call_command("contract_sync")
    # then: the service active in COS but missing on the network is on the queue
    (exception,) = ContractException.objects.filter(status=ExceptionStatus.OPEN)
    assert (exception.kind, exception.service_id) == (ExceptionKind.BILLED_INACTIVE, live_on_restartable.pk)
    out = capsys.readouterr().out
    assert "1 ONT(s) read, 0 unreachable." in out
    assert "1  Subscription active, network inactive (billed_inactive)" in out
    assert "1 contract exception(s) open" in out


def test_contract_sync_says_when_it_found_nothing(live_on_restartable, capsys):
    call_command("contract_sync")
    out = capsys.readouterr().out
    assert "1 ONT(s) read, 0 unreachable." in out
    assert "No differences found." in out
    assert not ContractException.objects.exists()


def test_a_corrupt_state_file_stops_the_simulator_with_a_clear_message(tmp_path, monkeypatch):
    # given
    state_file = tmp_path / "simulator-state.json"
    state_file.write_text("{not json")
    monkeypatch.setattr(Simulator, "serve_forever", lambda self: pytest.fail("served with a corrupt state file"))
    # when / then: it refuses to start rather than serve empty devices
    with pytest.raises(CommandError, match="not a simulator state file.*delete it to start with empty devices"):
        call_command("run_olt_simulator", "--port", "8199", "--state-file", str(state_file), "--no-inventory")
    assert state_file.read_text() == "{not json"


def test_an_exceptions_page_says_where_and_whose(live, admin_client):
    # given: the service's exception, and one for a service nobody ordered on the same ONT
    from dataclasses import replace

    w, ont, service = live
    adapter_for("adtran").deactivate(service_spec(service))
    adapter_for("adtran").activate(replace(service_spec(service), service_id="rogue-1"))
    contract_sync()
    billed = ContractException.objects.get(kind=ExceptionKind.BILLED_INACTIVE)
    rogue = ContractException.objects.get(kind=ExceptionKind.ACTIVATION_WITHOUT_ORDER)
    # when
    pages = {
        e.kind: admin_client.get(f"/admin/provisioning/contractexception/{e.pk}/change/").content.decode()
        for e in (billed, rogue)
    }
    # then: both name the address; the service's names its customer, the other who was last there
    for page in pages.values():
        assert w.address.label in page
    assert w.customer.display_name in pages[ExceptionKind.BILLED_INACTIVE]
    assert f"none ordered it; last at the address: {w.customer.display_name}" in pages[rogue.kind]
