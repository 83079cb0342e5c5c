"""What the TM Forum APIs keep of their own: a qualification's answer, a product order (the COS order, plan changes
and terminations its items asked for), and a cancellation request. Everything else they show is read from the
apps that own it."""

from django.db import models

from cos.models.base import TimeStampedModel


class Qualification(TimeStampedModel):
    """A TMF679 ProductOfferingQualification: what was qualified where, as answered then."""

    provider = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="+")
    result = models.JSONField()

    class Meta:
        ordering = ["-created_at", "-id"]


class ProductOrder(TimeStampedModel):
    """A TMF622 ProductOrder: its `add` items are one COS order; each `modify` item a plan change and each `delete`
    item a termination of one of the provider's subscriptions. `items` keeps, per item id, its action and what it
    became: [{"id", "action", "subscription", "change", "offering"}]."""

    provider = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="+")
    order = models.OneToOneField(
        "marketplace.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="tmf_order"
    )
    items = models.JSONField(default=list)
    external_id = models.CharField(max_length=100, blank=True)
    description = models.CharField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="tmf_product_order_idempotent",
            )
        ]


class CancelProductOrder(TimeStampedModel):
    """A TMF622 cancelProductOrder request and how it ended (done, or terminatedWithError and why)."""

    provider = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="+")
    product_order = models.ForeignKey(ProductOrder, on_delete=models.PROTECT, related_name="cancellations")
    reason = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=24)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
