"""Calix (SMx style northbound REST, subscriber-centric, basic auth). The whole mapping is in this module.

Requests:  PUT    /rest/v1/ems/service/data   {"ontId", "serviceId", "bwProfile", "downstreamMbps",
                                               "upstreamMbps", "cTag", "sTag", "adminState": "ENABLED"}
           DELETE /rest/v1/ems/service/data?ontId={serial}&serviceId={service_id}
           GET    /rest/v1/ems/ont?serialNumber={serial}   -> {"serialNumber", "status", "dataServices": [...]}
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


class CalixAdapter(VendorAdapter):
    vendor = "calix"

    def __init__(self, *, base_url: str, username: str, password: str, timeout: float):
        self.http = HttpClient(base_url, timeout=timeout, auth=(username, password))

    def activate(self, spec: ServiceSpec) -> None:
        self.http.call(
            "PUT",
            "/rest/v1/ems/service/data",
            json={
                "ontId": spec.ont_serial,
                "serviceId": spec.service_id,
                "bwProfile": spec.profile,
                "downstreamMbps": spec.download_mbps,
                "upstreamMbps": spec.upload_mbps,
                "cTag": spec.c_vlan,
                "sTag": spec.s_vlan,
                "adminState": "ENABLED",
            },
        )

    def modify(self, spec: ServiceSpec) -> None:
        self.activate(spec)

    def deactivate(self, spec: ServiceSpec) -> None:
        self.http.call(
            "DELETE", "/rest/v1/ems/service/data", params={"ontId": spec.ont_serial, "serviceId": spec.service_id}
        )

    def read_state(self, serial: str) -> DeviceState:
        body = self.http.call("GET", "/rest/v1/ems/ont", params={"serialNumber": serial}, not_found_is_none=True)
        if body is None:
            raise PermanentError(f"Calix does not know ONT {serial}")
        return DeviceState(
            serial=body["serialNumber"],
            online=body.get("status") == "ONLINE",
            services={
                s["serviceId"]: ServiceState(
                    service_id=s["serviceId"],
                    enabled=s.get("adminState") == "ENABLED",
                    profile=s.get("bwProfile", ""),
                    download_mbps=s.get("downstreamMbps"),
                    upload_mbps=s.get("upstreamMbps"),
                    c_vlan=s.get("cTag"),
                    s_vlan=s.get("sTag"),
                    activated_at=device_time(s.get("activatedAt")),
                )
                for s in body.get("dataServices", [])
            },
        )
