"""The element manager's clock can be set (as NTP sets a real one): a simulated month reports its own times."""

import requests
from django.test import override_settings

from provisioning.adapters import ServiceSpec, adapter_for
from tests.provisioning.conftest import running_simulator, simulator  # noqa: F401 - fixtures


def _activated_at(sim, serial: str, service_id: str) -> str:
    return requests.get(f"{sim.url}/_sim/state", timeout=5).json()["onts"][serial]["services"][service_id][
        "activated_at"
    ]


def test_a_service_turned_on_under_a_set_clock_reports_that_time_until_the_clock_is_given_back(simulator):  # noqa: F811
    simulator.state.auto_discover = True
    with override_settings(PROVISIONING_ADTRAN_URL=f"{simulator.url}/adtran"):
        answer = requests.post(f"{simulator.url}/_sim/clock", json={"now": "2026-09-14T08:30:00+02:00"}, timeout=5)
        assert answer.status_code == 200
        adapter_for("adtran").activate(ServiceSpec("svc-1", "ADTN1A2B0001", "HSI_250_250", 250, 250, c_vlan=101))
        assert _activated_at(simulator, "ADTN1A2B0001", "svc-1") == "2026-09-14T08:30:00+02:00"
        assert requests.delete(f"{simulator.url}/_sim/clock", timeout=5).status_code == 204
        adapter_for("adtran").activate(ServiceSpec("svc-2", "ADTN1A2B0001", "HSI_250_250", 250, 250, c_vlan=102))
        assert not _activated_at(simulator, "ADTN1A2B0001", "svc-2").startswith("2026-09-14")


def test_a_clock_without_an_offset_or_not_a_time_is_refused(simulator):  # noqa: F811
    for body in ({"now": "2026-09-14T08:30:00"}, {"now": "yesterday"}, {}):
        answer = requests.post(f"{simulator.url}/_sim/clock", json=body, timeout=5)
        assert answer.status_code == 400
        assert "ISO 8601" in answer.json()["error"]
    assert simulator.state.clock is None
