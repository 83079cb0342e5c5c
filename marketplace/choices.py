"""Status values and kinds of the marketplace."""

from django.db import models


class Segment(models.TextChoices):
    RESIDENTIAL = "residential", "Residential"
    BUSINESS = "business", "Business"
    MUNICIPAL = "municipal", "Municipal"


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
CANCELLABLE_ORDER_STATUSES = (OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.ACCEPTED)


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
    TERMINATED = "terminated", "Terminated"
    CANCELLED = "cancelled", "Cancelled"


LIVE_SUBSCRIPTION_STATUSES = (SubscriptionStatus.PENDING, SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED)


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
