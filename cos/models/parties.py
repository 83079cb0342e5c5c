"""Organizations, the people in them (with roles), and customers (subscribers)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Upper

from cos.choices import CustomerType, OrganizationKind, Role
from cos.models.base import TimeStampedModel


class Organization(TimeStampedModel):
    """A network operator, a service provider (ISP) or a contractor."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=32, choices=OrganizationKind.choices, db_index=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    # What an invoice must say of its issuer (and where to pay it): shown on every invoice and credit note.
    legal_name = models.CharField(max_length=200, blank=True, help_text="Empty: the name.")
    street = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, default="SE", help_text="ISO 3166 code, e.g. SE.")
    organisation_number = models.CharField(max_length=32, blank=True, help_text="e.g. 556677-8899")
    vat_number = models.CharField(max_length=32, blank=True, help_text="e.g. SE556677889901")
    bankgiro = models.CharField(max_length=16, blank=True, help_text="e.g. 5050-1055: payments with the OCR reference")
    iban = models.CharField(max_length=34, blank=True)
    bic = models.CharField(max_length=11, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def invoice_name(self) -> str:
        return self.legal_name or self.name

    @property
    def invoice_details_missing(self) -> list[str]:
        """What an invoice of this issuer would lack to be sent as it is."""
        missing = [
            label
            for label, value in (
                ("address", self.street and self.postal_code and self.city),
                ("organisation number", self.organisation_number),
                ("VAT number", self.vat_number),
                ("bankgiro or IBAN", self.bankgiro or self.iban),
            )
            if not value
        ]
        return missing


class Membership(TimeStampedModel):
    """A person's role in an organization; the role's permissions come from the Django group of the same name."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)

    class Meta:
        ordering = ["organization__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "role"], name="membership_unique_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"


def default_language() -> str:
    """A new customer's language: COS_DEFAULT_LANGUAGE."""
    return settings.COS_DEFAULT_LANGUAGE


class Customer(TimeStampedModel):
    """A subscriber: a person or a company, with billing contact details and an optional portal login."""

    customer_type = models.CharField(max_length=16, choices=CustomerType.choices, db_index=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    billing_street = models.CharField(max_length=200)
    billing_postal_code = models.CharField(max_length=16)
    billing_city = models.CharField(max_length=100)
    billing_country = models.CharField(max_length=2, default="SE")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="customer"
    )
    # How the subscriber is told what happens (cos.notifications): the language of every message, and the
    # channels wanted. A mandatory message (an invoice sent by e-mail) is e-mailed whatever notify_by_email says.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default=default_language)
    notify_by_email = models.BooleanField(default=True, help_text="Messages by e-mail.")
    notify_by_sms = models.BooleanField(default=False, help_text="Messages by SMS too, to the phone number.")

    class Meta:
        ordering = ["last_name", "company_name", "id"]
        indexes = [
            models.Index(fields=["email"]),
            # `email__iexact` (the same person ordering again) compiles to UPPER(email) = UPPER(%s) on PostgreSQL.
            models.Index(Upper("email"), name="customer_email_upper"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        person = f"{self.first_name} {self.last_name}".strip()
        if self.company_name:
            return f"{self.company_name} ({person})" if person else self.company_name
        return person or self.email

    def clean(self) -> None:
        if self.customer_type == CustomerType.RESIDENTIAL and not (self.first_name and self.last_name):
            raise ValidationError({"last_name": "A residential customer needs a first and a last name."})
        if self.customer_type in (CustomerType.BUSINESS, CustomerType.MUNICIPAL) and not self.company_name:
            raise ValidationError({"company_name": "A business or municipal customer needs a company name."})
