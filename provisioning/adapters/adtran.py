"""Adtran (Mosaic Cloud Platform style REST, API key and tenant headers). The whole mapping is in this module.

Requests:  PUT    /api/v1/onts/{serial}/services/{service_id}   {"profile", "downstreamMbps", "upstreamMbps",
                                                                  "cVlan", "sVlan", "qosClass", "adminState"}
           DELETE /api/v1/onts/{serial}/services/{service_id}
           GET    /api/v1/onts/{serial}   -> {"serialNumber", "operState", "services": [...]}
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


class AdtranAdapter(VendorAdapter):
    vendor = "adtran"

    def __init__(self, *, base_url: str, api_key: str, tenant: str, timeout: float):
        self.http = HttpClient(base_url, timeout=timeout, headers={"X-Api-Key": api_key, "X-Tenant": tenant})

    def _body(self, spec: ServiceSpec, admin_state: str) -> dict:
        return {
            "profile": spec.profile,
            "downstreamMbps": spec.download_mbps,
            "upstreamMbps": spec.upload_mbps,
            "cVlan": spec.c_vlan,
            "sVlan": spec.s_vlan,
            "qosClass": spec.qos_class,
            "adminState": admin_state,
        }

    def activate(self, spec: ServiceSpec) -> None:
        self.http.call(
            "PUT", f"/api/v1/onts/{spec.ont_serial}/services/{spec.service_id}", json=self._body(spec, "enabled")
        )

    def modify(self, spec: ServiceSpec) -> None:
        self.activate(spec)

    def deactivate(self, spec: ServiceSpec) -> None:
        self.http.call("DELETE", f"/api/v1/onts/{spec.ont_serial}/services/{spec.service_id}")

    def read_state(self, serial: str) -> DeviceState:
        body = self.http.call("GET", f"/api/v1/onts/{serial}", not_found_is_none=True)
        if body is None:
            raise PermanentError(f"Adtran does not know ONT {serial}")
        return DeviceState(
            serial=body["serialNumber"],
            online=body.get("operState") == "up",
            services={
                s["serviceId"]: ServiceState(
                    service_id=s["serviceId"],
                    enabled=s.get("adminState") == "enabled",
                    profile=s.get("profile", ""),
                    download_mbps=s.get("downstreamMbps"),
                    upload_mbps=s.get("upstreamMbps"),
                    c_vlan=s.get("cVlan"),
                    s_vlan=s.get("sVlan"),
                    activated_at=device_time(s.get("activatedAt")),
                )
                for s in body.get("services", [])
            },
        )
