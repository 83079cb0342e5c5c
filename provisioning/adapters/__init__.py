"""Vendor adapters, chosen by the OLT's vendor; base URLs and credentials come from settings."""

from django.conf import settings

from provisioning.adapters.adtran import AdtranAdapter
from provisioning.adapters.base import (
    AdapterError,
    DeviceState,
    PermanentError,
    ServiceSpec,
    ServiceState,
    TransientError,
    VendorAdapter,
)
from provisioning.adapters.calix import CalixAdapter
from provisioning.adapters.nokia import NokiaAdapter

__all__ = [
    "AdapterError",
    "DeviceState",
    "PermanentError",
    "ServiceSpec",
    "ServiceState",
    "TransientError",
    "VendorAdapter",
    "adapter_for",
]


def adapter_for(vendor: str) -> VendorAdapter:
    """The adapter of a vendor, configured from settings (PROVISIONING_<VENDOR>_*)."""
    timeout = settings.PROVISIONING_TIMEOUT_SECONDS
    if vendor == "adtran":
        return AdtranAdapter(
            base_url=settings.PROVISIONING_ADTRAN_URL,
            api_key=settings.PROVISIONING_ADTRAN_API_KEY,
            tenant=settings.PROVISIONING_ADTRAN_TENANT,
            timeout=timeout,
        )
    if vendor == "nokia":
        return NokiaAdapter(
            base_url=settings.PROVISIONING_NOKIA_URL,
            username=settings.PROVISIONING_NOKIA_USER,
            password=settings.PROVISIONING_NOKIA_PASSWORD,
            timeout=timeout,
        )
    if vendor == "calix":
        return CalixAdapter(
            base_url=settings.PROVISIONING_CALIX_URL,
            username=settings.PROVISIONING_CALIX_USER,
            password=settings.PROVISIONING_CALIX_PASSWORD,
            timeout=timeout,
        )
    raise PermanentError(f"No adapter for vendor {vendor!r}")
