"""Payment gateways behind one interface (billing.gateways.base.Gateway): Stripe, and an offline one."""

from django.conf import settings

from billing.gateways.base import Gateway


def gateway_for(name: str | None = None) -> Gateway:
    """The gateway by name (a payment's or a method's), or the configured one (PAYMENT_GATEWAY)."""
    name = name or settings.PAYMENT_GATEWAY
    if name == "stripe":
        from billing.gateways.stripe_gateway import StripeGateway

        return StripeGateway()
    if name == "offline":
        from billing.gateways.offline import OfflineGateway

        return OfflineGateway()
    raise ValueError(f"Unknown payment gateway {name!r}")
