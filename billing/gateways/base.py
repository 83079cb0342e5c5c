"""The one small interface billing uses to move money: customers, saved payment methods, charges, refunds, events.

Statuses are the gateway's, normalized: a charge is `succeeded`, `processing` (a bank debit on its way),
`requires_action` (the subscriber must authenticate) or `failed`. A charge is asked for with an idempotency key:
asking again with the same key (after a timeout) returns the same charge and never charges twice.
"""

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal

from cos.errors import ApplicationError

SUCCEEDED, PROCESSING, REQUIRES_ACTION, FAILED = "succeeded", "processing", "requires_action", "failed"

# Currencies without minor units, sent in whole units (Stripe's list; ISK and UGX it takes in hundredths).
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "CLP", "VND", "XOF", "XAF", "PYG"}


def minor_units(amount: Decimal, currency: str) -> int:
    """An amount as the gateway counts it: cents, or whole units for zero-decimal currencies. An amount the
    currency cannot carry is refused rather than rounded (the invoice would be paid for more than was charged)."""
    units = amount if currency.upper() in ZERO_DECIMAL_CURRENCIES else amount * 100
    if units != units.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than {currency} can be charged in")
    return int(units)


def from_minor_units(value: int, currency: str) -> Decimal:
    if currency.upper() in ZERO_DECIMAL_CURRENCIES:
        return Decimal(value).quantize(Decimal("0.01"))
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


class GatewayUnavailable(Exception):
    """A timeout, an outage or a conflicting request in flight: the outcome is unknown, ask again with the same key."""


class GatewayRefused(ApplicationError):
    """The gateway refused the request itself (bad details, a declined card when saving): the message says why."""

    code = "gateway_refused"
    http_status = 402


class SignatureInvalid(ApplicationError):
    code = "signature_invalid"
    http_status = 400


@dataclass(frozen=True)
class SavedMethod:
    reference: str
    type: str
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None
    mandate_reference: str = ""


@dataclass(frozen=True)
class SetupStart:
    """A started setup of a payment method: the browser confirms it with the client secret (Stripe Elements)."""

    reference: str
    client_secret: str


@dataclass(frozen=True)
class ChargeResult:
    reference: str
    status: str
    failure_code: str = ""
    failure_message: str = ""
    client_secret: str = ""
    metadata: dict = field(default_factory=dict)
    charge: str = ""


@dataclass(frozen=True)
class RefundResult:
    reference: str
    status: str  # succeeded | pending | failed
    failure_message: str = ""


@dataclass(frozen=True)
class GatewayEvent:
    id: str
    type: str
    object: dict
    created: int


class EventMalformed(SignatureInvalid):
    """Signed, but not an event: a body without an id, a type or a data object."""

    code = "event_malformed"


def event_of(payload: bytes) -> GatewayEvent:
    """The event of a verified body; a body that is not one is refused (400), never a server error."""
    try:
        data = json.loads(payload)
        event = GatewayEvent(
            str(data["id"]), str(data["type"]), dict(data["data"]["object"]), int(data.get("created") or 0)
        )
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise EventMalformed("The body is signed but is not an event (id, type and data.object).") from exc
    if not event.id or not event.type:
        raise EventMalformed("The event has no id or no type.")
    return event


class Gateway(ABC):
    name: str
    # Where the portal takes card and bank details: "stripe" (Stripe Elements) or "form" (the offline form).
    collects_details_with: str

    @abstractmethod
    def customer_ensure(self, *, account) -> str:
        """The account's customer id at the gateway, made when missing (the caller saves it on the account)."""

    @abstractmethod
    def setup_start(self, *, customer: str, method_type: str) -> SetupStart:
        """Begin saving a payment method for off-session use (a SetupIntent, with its mandate for debits)."""

    @abstractmethod
    def setup_complete(self, *, customer: str, setup_reference: str = "", details: dict | None = None) -> SavedMethod:
        """The saved method once the setup succeeded (or, offline, from the details typed in)."""

    @abstractmethod
    def method_remove(self, *, reference: str) -> None:
        """Detach the method from the customer: it can no longer be charged."""

    @abstractmethod
    def charge(
        self,
        *,
        customer: str,
        method: str,
        method_type: str,
        amount: Decimal,
        currency: str,
        key: str,
        metadata: dict,
        off_session: bool = True,
    ) -> ChargeResult:
        """Charge the saved method. Raises GatewayUnavailable when the outcome is unknown."""

    @abstractmethod
    def charge_cancel(self, *, reference: str) -> None:
        """Cancel a charge that waits for the subscriber's confirmation: it can no longer be confirmed."""

    @abstractmethod
    def charge_status(self, *, reference: str, currency: str) -> ChargeResult:
        """Where a charge stands now (for a webhook that never came)."""

    @abstractmethod
    def refund(self, *, charge: str, amount: Decimal, currency: str, key: str, metadata: dict) -> RefundResult:
        """Give money back on a charge. Raises GatewayUnavailable when the outcome is unknown."""

    @abstractmethod
    def event_parse(self, *, payload: bytes, signature: str) -> GatewayEvent:
        """A webhook event whose signature (and age) was checked; SignatureInvalid otherwise."""
