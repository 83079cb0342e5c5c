"""The one small interface every vendor adapter implements, and the errors it raises.

An adapter maps the network contract onto one vendor's element-manager API. Transient errors
(timeouts, 5xx, connection refused) may succeed on retry; permanent ones (unknown ONT, invalid
profile, a rejected request) never will.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime


def device_time(value: str | None) -> datetime | None:
    """A time as a device reports it, always aware: without an offset it is taken as UTC (element managers keep
    UTC); one that cannot be read is no time at all (the job then uses its own verified moment)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class AdapterError(Exception):
    """A failed call to an element manager."""

    transient = False


class TransientError(AdapterError):
    """Timeouts, 5xx, connection refused: retry later."""

    transient = True


class PermanentError(AdapterError):
    """Unknown ONT, invalid profile, a request the element manager rejects: retrying will not help."""


@dataclass(frozen=True)
class ServiceSpec:
    """What one service must look like on the device."""

    service_id: str
    ont_serial: str
    profile: str
    download_mbps: int | None
    upload_mbps: int | None
    c_vlan: int | None
    s_vlan: int | None = None
    qos_class: str = "best_effort"


@dataclass(frozen=True)
class ServiceState:
    """One service as the device reports it."""

    service_id: str
    enabled: bool
    profile: str
    download_mbps: int | None
    upload_mbps: int | None
    c_vlan: int | None
    s_vlan: int | None
    activated_at: datetime | None


@dataclass(frozen=True)
class DeviceState:
    """An ONT as the element manager reports it."""

    serial: str
    online: bool
    services: dict[str, ServiceState] = field(default_factory=dict)

    def matches(self, spec: ServiceSpec) -> bool:
        """The service is live with exactly the contracted profile, speeds and VLANs."""
        state = self.services.get(spec.service_id)
        return (
            state is not None
            and state.enabled
            and (state.profile, state.download_mbps, state.upload_mbps, state.c_vlan, state.s_vlan)
            == (spec.profile, spec.download_mbps, spec.upload_mbps, spec.c_vlan, spec.s_vlan)
        )


class VendorAdapter:
    """activate, deactivate, modify, read state by serial — the whole contract with a vendor."""

    vendor = ""

    def activate(self, spec: ServiceSpec) -> None:
        raise NotImplementedError

    def deactivate(self, spec: ServiceSpec) -> None:
        raise NotImplementedError

    def modify(self, spec: ServiceSpec) -> None:
        raise NotImplementedError

    def read_state(self, serial: str) -> DeviceState:
        raise NotImplementedError
