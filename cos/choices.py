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
