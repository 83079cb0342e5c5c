"""What a provider is told of its services (cos.services.providers_notify: recorded, and sent to its webhook
endpoints): activated, modified, suspended, resumed, deactivated, each verified on the network, with the device's time
and the ledger period the change opened (or, for a deactivation, closed)."""

from datetime import timedelta

from django.utils.dateparse import parse_datetime

from cos.services import providers_notify
from provisioning.models import ServiceInstance, ServicePeriod

# event -> the payload's key of the device's time
SERVICE_TOPICS = {
    "service.activated": "activated_at",
    "service.modified": "modified_at",
    "service.suspended": "suspended_at",
    "service.resumed": "resumed_at",
    "service.deactivated": "deactivated_at",
}


def _iso(moment):
    """To the microsecond, as the ledger keeps it (JSON's encoder would cut it to milliseconds)."""
    return moment.isoformat() if moment is not None else None


def _period(period: ServicePeriod | None) -> dict | None:
    if period is None:
        return None
    return {
        "id": period.pk,
        "started_at": _iso(period.started_at),
        "ended_at": _iso(period.ended_at),
        "cause": period.cause,
        "end_cause": period.end_cause,
        "profile": period.profile,
        "download_mbps": period.download_mbps,
        "upload_mbps": period.upload_mbps,
    }


def service_tell_provider(*, event) -> int:
    """`event` is one of SERVICE_TOPICS."""
    service = ServiceInstance.objects.select_related("address", "ont").filter(pk=event.payload["service_id"]).first()
    if service is None:
        return 0
    at = parse_datetime(str(event.payload.get(SERVICE_TOPICS[event.name]) or ""))
    period = None
    if at is not None:
        # The event's JSON keeps milliseconds: the period is the one of that millisecond, and gives the full time.
        edge = "ended_at" if event.name == "service.deactivated" else "started_at"
        window = {f"{edge}__gte": at, f"{edge}__lt": at + timedelta(milliseconds=1)}
        period = ServicePeriod.objects.filter(service=service, **window).order_by("-pk").first()
        at = getattr(period, edge) if period is not None else at
    payload = {
        "service_id": service.pk,
        "subscription_id": service.subscription_id,
        "status": service.status,
        "device_time": _iso(at),
        "cause": event.payload.get("cause", ""),
        "address_id": service.address_id,
        "address": service.address.label,
        "profile": service.service_profile,
        "download_mbps": service.download_mbps,
        "upload_mbps": service.upload_mbps,
        "ont_serial": service.ont.serial if service.ont else "",
        "period": _period(period),
    }
    if "change_id" in event.payload:
        payload.update(change_id=event.payload["change_id"], product_id=event.payload.get("product_id"))
    return providers_notify(provider_ids=[service.provider_id], event=event, topic=event.name, payload=payload)
