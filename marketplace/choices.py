"""Status values and kinds of the marketplace."""

from django.db import models


class Segment(models.TextChoices):
    RESIDENTIAL = "residential", "Residential"
    BUSINESS = "business", "Business"
    MUNICIPAL = "municipal", "Municipal"


# Consumers see prices including VAT (EU consumer law); businesses compare prices before VAT.
SEGMENTS_WITH_TAX_INCLUDED = frozenset({Segment.RESIDENTIAL, Segment.MUNICIPAL})


class ParticipationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class BillingCycle(models.TextChoices):
    MONTHLY = "monthly", "Monthly on the 1st"
    ANNIVERSARY = "anniversary", "Anniversary of activation"


class ProductCategory(models.TextChoices):
    INTERNET = "internet", "Internet"
    TV = "tv", "TV"
    TELEPHONY = "telephony", "Telephony"
    VALUE_ADDED = "value_added", "Value-added service"


class PromotionKind(models.TextChoices):
    PERCENT_OFF = "percent_off", "Percent off"
    AMOUNT_OFF = "amount_off", "Amount off"
    FREE_MONTHS = "free_months", "Free months"


class OrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    IN_FULFILLMENT = "in_fulfillment", "In fulfillment"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_ORDER_STATUSES = (OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.IN_FULFILLMENT)
# An order can be cancelled while it is open; once field work has started, only while nothing of it is live yet.
CANCELLABLE_ORDER_STATUSES = OPEN_ORDER_STATUSES


class Channel(models.TextChoices):
    PORTAL = "portal", "Customer portal"
    API = "api", "Provider API"


class InstallSlot(models.TextChoices):
    ANY = "any", "Any time"
    MORNING = "morning", "Morning (08-12)"
    AFTERNOON = "afternoon", "Afternoon (12-17)"


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    AWAITING_CANCELLATION = "awaiting_cancellation", "Awaiting cancellation"
    TERMINATED = "terminated", "Terminated"
    CANCELLED = "cancelled", "Cancelled"


# Held at the address (a second one of the category is a duplicate): from acceptance until it ends.
LIVE_SUBSCRIPTION_STATUSES = (
    SubscriptionStatus.PENDING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.SUSPENDED,
    SubscriptionStatus.AWAITING_CANCELLATION,
)
# Delivered on the network (the service runs).
IN_SERVICE_STATUSES = (
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.SUSPENDED,
    SubscriptionStatus.AWAITING_CANCELLATION,
)
ENDED_SUBSCRIPTION_STATUSES = (SubscriptionStatus.TERMINATED, SubscriptionStatus.CANCELLED)


class CancellationReason(models.TextChoices):
    """Why a subscription ends: a fixed list, so the reasons can be counted."""

    PROVIDER_CHANGED = "provider_changed", "Changed provider"
    SERVICE_CANCELLED = "service_cancelled", "Service no longer wanted"
    SERVICE_CHANGED = "service_changed", "Changed to another service"
    MOVED = "moved", "Moved away"
    OTHER = "other", "Other (say why)"


class LifecycleReason(models.TextChoices):
    """Why operator staff or a provider suspend, resume or change a subscription."""

    CUSTOMER_REQUEST = "customer_request", "The customer asked for it"
    NON_PAYMENT = "non_payment", "Non-payment"
    FRAUD_OR_ABUSE = "fraud_or_abuse", "Fraud or abuse"
    TECHNICAL = "technical", "Technical reason"
    CORRECTION = "correction", "Correction of an error"
    OTHER = "other", "Other (say why)"


class ChangeKind(models.TextChoices):
    UPGRADE = "upgrade", "Upgrade (at once)"
    DOWNGRADE = "downgrade", "Downgrade (at the next period)"


class ChangeStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    REQUESTED = "requested", "Sent to the network"
    APPLIED = "applied", "Applied"
    CANCELLED = "cancelled", "Cancelled"


class SwitchStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the new provider's acceptance"
    SCHEDULED = "scheduled", "Hand-over scheduled"
    HANDING_OVER = "handing_over", "Handing over on the network"
    COMPLETED = "completed", "Completed"
    ABORTED = "aborted", "Aborted"


OPEN_SWITCH_STATUSES = (SwitchStatus.PENDING, SwitchStatus.SCHEDULED, SwitchStatus.HANDING_OVER)


class ValidationCode(models.TextChoices):
    """Why an order was refused; the data-quality metric counts these."""

    ADDRESS_NOT_FOUND = "address_not_found", "Address not found"
    ADDRESS_NOT_SERVICEABLE = "address_not_serviceable", "Address not serviceable"
    MARKETPLACE_NOT_AVAILABLE = "marketplace_not_available", "Marketplace does not cover the address or segment"
    PROVIDER_NOT_AVAILABLE = "provider_not_available", "Provider not active at this address"
    PRODUCT_NOT_FOUND = "product_not_found", "Product not found"
    PRODUCT_RETIRED = "product_retired", "Product retired"
    PRODUCT_OF_OTHER_PROVIDER = "product_of_other_provider", "Product of another provider"
    NOT_ELIGIBLE = "not_eligible", "Not eligible"
    MAX_PER_ADDRESS = "max_per_address", "Maximum per address reached"
    PRICE_MISSING = "price_missing", "No current price"
    PRICE_STALE = "price_stale", "Price differs from the catalog"
    CURRENCY_MISMATCH = "currency_mismatch", "Currency does not match the marketplace"
    DEPENDENCY_MISSING = "dependency_missing", "Required product missing"
    DUPLICATE = "duplicate", "Duplicate order or subscription"
    INSTALLATION_WINDOW = "installation_window", "Installation window missing or invalid"
    TERMS_NOT_ACCEPTED = "terms_not_accepted", "Terms not accepted"
    NO_LINES = "no_lines", "No products"
    CUSTOMER_TYPE = "customer_type_mismatch", "Customer type does not match the marketplace segment"


# What a subscriber reads for each status (the portal): plain words, not the state machine's names.
ORDER_STATUS_FOR_CUSTOMERS = {
    OrderStatus.DRAFT: "Not sent yet",
    OrderStatus.SUBMITTED: "Received",
    OrderStatus.ACCEPTED: "Confirmed",
    OrderStatus.REJECTED: "Not accepted",
    OrderStatus.IN_FULFILLMENT: "Being connected",
    OrderStatus.COMPLETED: "Done: your services are on",
    OrderStatus.CANCELLED: "Cancelled",
}
SUBSCRIPTION_STATUS_FOR_CUSTOMERS = {
    SubscriptionStatus.PENDING: "Starts when it is connected",
    SubscriptionStatus.ACTIVE: "On",
    SubscriptionStatus.SUSPENDED: "Paused",
    SubscriptionStatus.AWAITING_CANCELLATION: "Ending",
    SubscriptionStatus.TERMINATED: "Ended",
    SubscriptionStatus.CANCELLED: "Cancelled",
}


class SettlementModel(models.TextChoices):
    """How the operator and a provider settle the provider's services (wholesale.settlement)."""

    WHOLESALE = "wholesale", "Wholesale: the provider bills its subscribers, the operator bills the provider"
    ACCESS_ONLY = "access_only", "Network access only: the operator bills the provider for the days of access"
    REVENUE_SHARE = "revenue_share", "Revenue share: the operator bills subscribers for the provider and pays out"
