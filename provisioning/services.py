"""Use cases of provisioning that write. The jobs, adapters and activation follow in later steps."""

from django.db import transaction

from marketplace.models import Subscription
from provisioning.models import ServiceInstance


@transaction.atomic
def service_instances_for_subscriptions(*, subscription_ids: list[int]) -> int:
    """One pending service instance (the network contract) per subscription, from the product's profile.

    Idempotent: a subscription that has one gets no second.
    """
    subscriptions = (
        Subscription.objects.filter(pk__in=subscription_ids, service_instance__isnull=True)
        .select_related("product")
        .order_by("pk")
    )
    created = ServiceInstance.objects.bulk_create(
        [
            ServiceInstance(
                subscription=s,
                address_id=s.address_id,
                provider_id=s.provider_id,
                service_profile=s.product.service_profile,
                download_mbps=s.product.download_mbps,
                upload_mbps=s.product.upload_mbps,
            )
            for s in subscriptions
        ],
        ignore_conflicts=True,
    )
    return len(created)
