"""Choices of the wholesale app."""

from django.db import models


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    DISPUTED = "disputed", "Disputed"
    SETTLED = "settled", "Settled"


class LineKind(models.TextChoices):
    ACCESS = "access", "Network access"
    SUSPENDED = "suspended", "Suspended days"
    ACTIVATION = "activation", "Activation fee"
    ADJUSTMENT = "adjustment", "Adjustment"


# The kinds whose lines carry ledger days (each day of a period on exactly one of them).
DAY_KINDS = (LineKind.ACCESS, LineKind.SUSPENDED)


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    UNDER_REVIEW = "under_review", "Under review"
    UPHELD = "upheld", "Upheld"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_DISPUTE_STATUSES = (DisputeStatus.OPEN, DisputeStatus.UNDER_REVIEW)


class DisputeReason(models.TextChoices):
    NOT_LIVE = "not_live", "The service was not live on these days"
    WRONG_RATE = "wrong_rate", "The rate is not the agreed one"
    WRONG_DAYS = "wrong_days", "The number of days is wrong"
    DUPLICATE = "duplicate", "Charged twice"
    NOT_OURS = "not_ours", "Not our service"
    OTHER = "other", "Other"


class VarianceKind(models.TextChoices):
    LIVE_NOT_ON_STATEMENT = "live_not_on_statement", "Live on the network, not on the statement"
    ON_STATEMENT_NOT_LIVE = "on_statement_not_live", "On the statement, not live on the network"
    RATE_MISMATCH = "rate_mismatch", "Charged at another rate than the card's"
    RETAIL_WITHOUT_WHOLESALE = "retail_without_wholesale", "Billed to the subscriber, not on the statement"
    WHOLESALE_WITHOUT_RETAIL = "wholesale_without_retail", "On the statement, not billed to the subscriber"
