"""Status values and kinds of the core domain."""

from django.db import models


class OrganizationKind(models.TextChoices):
    NETWORK_OPERATOR = "network_operator", "Network operator"
    SERVICE_PROVIDER = "service_provider", "Service provider"
    CONTRACTOR = "contractor", "Contractor"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    OPERATIONS = "operations", "Operations"
    FINANCE = "finance", "Finance"
    FIELD_MANAGER = "field_manager", "Field manager"
    TECHNICIAN = "technician", "Technician"
    API = "api", "API"


class CustomerType(models.TextChoices):
    RESIDENTIAL = "residential", "Residential"
    BUSINESS = "business", "Business"
    MUNICIPAL = "municipal", "Municipal"


class AreaStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    SURVEYED = "surveyed", "Surveyed"
    IN_DEPLOYMENT = "in_deployment", "In deployment"
    BUILT = "built", "Built"


class AddressStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    SURVEYED = "surveyed", "Surveyed"
    IN_DEPLOYMENT = "in_deployment", "In deployment"
    CONNECTED = "connected", "Connected"


class BuildingType(models.TextChoices):
    SINGLE_FAMILY = "single_family", "Single-family"
    MULTI_DWELLING = "multi_dwelling", "Multi-dwelling"
    BUSINESS = "business", "Business"


class Vendor(models.TextChoices):
    ADTRAN = "adtran", "Adtran"
    NOKIA = "nokia", "Nokia"
    CALIX = "calix", "Calix"


class HandlerRunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead (retries exhausted)"


class MessageChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (tried again later)"
    DEAD = "dead", "Given up"
    SKIPPED = "skipped", "Not sent"


# A message that may still be sent: waiting, or failed and waiting for its next try.
UNSENT_MESSAGE_STATUSES = (MessageStatus.QUEUED, MessageStatus.FAILED)


class MessageKind(models.TextChoices):
    """What a message to a subscriber is about; each has its templates in templates/messages/<language>/."""

    ORDER_RECEIVED = "order_received", "Order received"
    ORDER_ACCEPTED = "order_accepted", "Order accepted"
    ORDER_REFUSED = "order_refused", "Order refused"
    INSTALLATION_BOOKED = "installation_booked", "Installation booked"
    INSTALLATION_CHANGED = "installation_changed", "Installation changed"
    FIBRE_READY = "fibre_ready", "Fibre ready at the address"
    SERVICE_ACTIVE = "service_active", "Service active"
    TERMINATION_CONFIRMED = "termination_confirmed", "Termination confirmed"
    NOTICE_WITHDRAWN = "notice_withdrawn", "Notice withdrawn"
    INVOICE_ISSUED = "invoice_issued", "Invoice issued"
    CREDIT_NOTE_ISSUED = "credit_note_issued", "Credit note issued"
    PAYMENT_RECEIVED = "payment_received", "Payment received"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    PAYMENT_ACTION_REQUIRED = "payment_action_required", "Payment needs confirmation"
    PAYMENT_METHOD_MISSING = "payment_method_missing", "No payment method on file"
    DUNNING_REMINDER = "dunning_reminder", "Reminder: invoice past due"
    DUNNING_SUSPENDED = "dunning_suspended", "Service suspended for non-payment"
    DUNNING_RESTORED = "dunning_restored", "Service restored after payment"
    BOARD_ALERT = "board_alert", "A board metric turned red (to the operator's staff)"
    WEBHOOK_DISABLED = "webhook_disabled", "A provider's webhook endpoint was disabled after failing"


class WebhookEndpointStatus(models.TextChoices):
    ENABLED = "enabled", "Enabled"
    DISABLED = "disabled", "Disabled (failing)"
    REMOVED = "removed", "Removed"


class WebhookFormat(models.TextChoices):
    COS = "cos", "COS events (/api/v1/)"
    TMF = "tmf", "TM Forum events (a /tmf-api/ hub listener)"


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (tried again later)"
    DEAD = "dead", "Given up"


# A delivery that may still be sent: waiting, or failed and waiting for its next try.
UNSENT_DELIVERY_STATUSES = (WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.FAILED)
