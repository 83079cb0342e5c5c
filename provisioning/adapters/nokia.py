"""Nokia (Altiplano style RESTCONF over BBF YANG, basic auth). The whole mapping is in this module.

Requests:  PUT    /restconf/data/bbf-fiber-onu:onus/onu={serial}/service={service_id}
                  {"service": {"profile", "bandwidth": {"downstream-kbps", "upstream-kbps"},
                               "vlan": {"c-tag", "s-tag"}, "qos-class", "admin-state": "unlocked"}}
           DELETE the same resource
           GET    /restconf/data/bbf-fiber-onu:onus/onu={serial}
                  -> {"onu": {"serial-number", "oper-state", "service": [...]}}
Speeds travel in kbit/s on this API.
"""

from provisioning.adapters.base import (
    DeviceState,
    PermanentError,
    ServiceSpec,
    ServiceState,
    VendorAdapter,
    device_time,
)
from provisioning.adapters.http import HttpClient

ONUS = "/restconf/data/bbf-fiber-onu:onus"


def _kbps(mbps: int | None) -> int | None:
    return None if mbps is None else mbps * 1000


def _mbps(kbps: int | None) -> int | None:
    return None if kbps is None else kbps // 1000


class NokiaAdapter(VendorAdapter):
    vendor = "nokia"

    def __init__(self, *, base_url: str, username: str, password: str, timeout: float):
        self.http = HttpClient(
            base_url, timeout=timeout, auth=(username, password), headers={"Accept": "application/yang-data+json"}
        )

    def activate(self, spec: ServiceSpec) -> None:
        body = {
            "service": {
                "profile": spec.profile,
                "bandwidth": {"downstream-kbps": _kbps(spec.download_mbps), "upstream-kbps": _kbps(spec.upload_mbps)},
                "vlan": {"c-tag": spec.c_vlan, "s-tag": spec.s_vlan},
                "qos-class": spec.qos_class,
                "admin-state": "unlocked",
            }
        }
        self.http.call(
            "PUT",
            f"{ONUS}/onu={spec.ont_serial}/service={spec.service_id}",
            json=body,
            headers={"Content-Type": "application/yang-data+json"},
        )

    def modify(self, spec: ServiceSpec) -> None:
        self.activate(spec)

    def deactivate(self, spec: ServiceSpec) -> None:
        self.http.call("DELETE", f"{ONUS}/onu={spec.ont_serial}/service={spec.service_id}")

    def read_state(self, serial: str) -> DeviceState:
        body = self.http.call("GET", f"{ONUS}/onu={serial}", not_found_is_none=True)
        if body is None:
            raise PermanentError(f"Nokia does not know ONU {serial}")
        onu = body["onu"]
        return DeviceState(
            serial=onu["serial-number"],
            online=onu.get("oper-state") == "up",
            services={
                s["name"]: ServiceState(
                    service_id=s["name"],
                    enabled=s.get("admin-state") == "unlocked",
                    profile=s.get("profile", ""),
                    download_mbps=_mbps(s.get("bandwidth", {}).get("downstream-kbps")),
                    upload_mbps=_mbps(s.get("bandwidth", {}).get("upstream-kbps")),
                    c_vlan=s.get("vlan", {}).get("c-tag"),
                    s_vlan=s.get("vlan", {}).get("s-tag"),
                    activated_at=device_time(s.get("activated-at")),
                )
                for s in onu.get("service", [])
            },
        )
