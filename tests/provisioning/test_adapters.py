"""The three vendor adapters against the element-manager simulator over HTTP on loopback, faults included."""

import pytest
import requests

from provisioning.adapters import PermanentError, ServiceSpec, TransientError
from provisioning.adapters.adtran import AdtranAdapter
from provisioning.adapters.calix import CalixAdapter
from provisioning.adapters.nokia import NokiaAdapter

SERIAL = "ADTN1A2B3C4D"


@pytest.fixture
def simulator(running_simulator):
    """The simulator (from conftest), emptied and knowing two ONTs; these tests call the adapters directly."""
    requests.post(f"{running_simulator.url}/_sim/reset", timeout=5)
    requests.post(f"{running_simulator.url}/_sim/onts", json={"serials": [SERIAL, "OTHR00000001"]}, timeout=5)
    return running_simulator


def _adapter(vendor, sim, timeout=2.0):
    if vendor == "adtran":
        return AdtranAdapter(base_url=f"{sim.url}/adtran", api_key="k", tenant="t", timeout=timeout)
    if vendor == "nokia":
        return NokiaAdapter(base_url=f"{sim.url}/nokia", username="u", password="p", timeout=timeout)
    return CalixAdapter(base_url=f"{sim.url}/calix", username="u", password="p", timeout=timeout)


def _spec(**over):
    values = {
        "service_id": "svc-1",
        "ont_serial": SERIAL,
        "profile": "HSI_1000_1000",
        "download_mbps": 1000,
        "upload_mbps": 1000,
        "c_vlan": 101,
        "s_vlan": 10,
    }
    values.update(over)
    return ServiceSpec(**values)


def _fault(sim, **fault):
    response = requests.post(f"{sim.url}/_sim/faults", json=fault, timeout=5)
    assert response.status_code == 201


VENDORS = ["adtran", "nokia", "calix"]


@pytest.mark.parametrize("vendor", VENDORS)
def test_activate_then_read_back_matches_the_contract(simulator, vendor):
    adapter = _adapter(vendor, simulator)
    adapter.activate(_spec())
    state = adapter.read_state(SERIAL)
    assert state.online
    assert state.matches(_spec())
    assert state.services["svc-1"].activated_at is not None


@pytest.mark.parametrize("vendor", VENDORS)
def test_modify_changes_the_speeds_and_keeps_the_activation_time(simulator, vendor):
    adapter = _adapter(vendor, simulator)
    adapter.activate(_spec())
    first = adapter.read_state(SERIAL).services["svc-1"].activated_at
    adapter.modify(_spec(profile="HSI_250_250", download_mbps=250, upload_mbps=250))
    state = adapter.read_state(SERIAL)
    assert state.matches(_spec(profile="HSI_250_250", download_mbps=250, upload_mbps=250))
    assert not state.matches(_spec())
    assert state.services["svc-1"].activated_at == first


@pytest.mark.parametrize("vendor", VENDORS)
def test_deactivate_removes_the_service(simulator, vendor):
    adapter = _adapter(vendor, simulator)
    adapter.activate(_spec())
    adapter.deactivate(_spec())
    assert "svc-1" not in adapter.read_state(SERIAL).services


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_unknown_serial_is_a_permanent_error(simulator, vendor):
    adapter = _adapter(vendor, simulator)
    with pytest.raises(PermanentError):
        adapter.activate(_spec(ont_serial="NOPE00000000"))
    with pytest.raises(PermanentError):
        adapter.read_state("NOPE00000000")


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"kind": "error_5xx"}, TransientError),
        ({"kind": "timeout", "delay": 1.0}, TransientError),
        ({"kind": "reject"}, PermanentError),
        ({"kind": "unknown_serial"}, PermanentError),
    ],
)
def test_faults_map_to_transient_or_permanent_errors(simulator, vendor, fault, error):
    adapter = _adapter(vendor, simulator, timeout=0.3)
    _fault(simulator, **fault)
    with pytest.raises(error):
        adapter.activate(_spec())


@pytest.mark.parametrize("vendor", VENDORS)
def test_applied_but_reading_back_differently_is_detected(simulator, vendor):
    adapter = _adapter(vendor, simulator)
    _fault(simulator, kind="mismatch", times=1)
    adapter.activate(_spec())
    assert not adapter.read_state(SERIAL).matches(_spec())


def test_a_fault_for_one_serial_leaves_the_others_alone_and_a_counted_fault_runs_out(simulator):
    adapter = _adapter("adtran", simulator)
    _fault(simulator, kind="error_5xx", serial=SERIAL, times=1)
    adapter.activate(_spec(ont_serial="OTHR00000001"))
    with pytest.raises(TransientError):
        adapter.activate(_spec())
    adapter.activate(_spec())  # the retry succeeds
    assert adapter.read_state(SERIAL).matches(_spec())


def test_a_slow_answer_within_the_timeout_still_works(simulator):
    adapter = _adapter("calix", simulator, timeout=2.0)
    _fault(simulator, kind="slow", delay=0.2, times=1)
    adapter.activate(_spec())
    assert adapter.read_state(SERIAL).matches(_spec())


def test_connection_refused_is_transient():
    adapter = NokiaAdapter(base_url="http://127.0.0.1:1/nokia", username="u", password="p", timeout=0.5)
    with pytest.raises(TransientError):
        adapter.read_state(SERIAL)


def test_the_simulator_refuses_an_unknown_fault_kind(simulator):
    response = requests.post(f"{simulator.url}/_sim/faults", json={"kind": "gremlins"}, timeout=5)
    assert response.status_code == 400


def test_run_olt_simulator_refuses_a_bad_port():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--port"):
        call_command("run_olt_simulator", port=0)


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("2026-12-01T10:00:00", "2026-12-01T10:00:00+00:00"),
        ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00+00:00"),
        ("2026-12-01T11:00:00+01:00", "2026-12-01T11:00:00+01:00"),
        ("yesterday", None),
        (None, None),
    ],
)
def test_device_times_are_always_aware(reported, expected):
    from provisioning.adapters.base import device_time

    moment = device_time(reported)
    assert (moment.isoformat() if moment else None) == expected
