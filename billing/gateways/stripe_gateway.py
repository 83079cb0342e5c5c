"""Stripe through its official SDK: a customer per billing account, payment methods saved with SetupIntents
(card, SEPA Direct Debit and ACH Direct Debit, with their mandates), off-session PaymentIntents for invoices,
refunds for credit notes, and signed webhook events.

Keys and the API address come from settings (STRIPE_SECRET_KEY, STRIPE_API_BASE, ...), so the same code runs
against Stripe or against a Stripe-compatible server on loopback. The SDK's own network retries are off: an
unknown outcome is raised as GatewayUnavailable and billing asks again later with the same idempotency key.
"""

import logging
from decimal import Decimal

import stripe
from django.conf import settings

from billing.gateways.base import (
    FAILED,
    PROCESSING,
    REQUIRES_ACTION,
    SUCCEEDED,
    ChargeResult,
    EventMalformed,
    Gateway,
    GatewayEvent,
    GatewayRefused,
    GatewayUnavailable,
    RefundResult,
    SavedMethod,
    SetupStart,
    SignatureInvalid,
    event_of,
    from_minor_units,
    minor_units,
)

logger = logging.getLogger(__name__)

# How a PaymentIntent's status reads for billing.
PI_STATUSES = {
    "succeeded": SUCCEEDED,
    "processing": PROCESSING,
    "requires_action": REQUIRES_ACTION,
    "requires_confirmation": PROCESSING,
    "requires_capture": PROCESSING,
    "requires_payment_method": FAILED,
    "canceled": FAILED,
}
TRANSIENT = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError, stripe.IdempotencyError)


def _get(obj, name, default=None):
    """A field of a Stripe object or of a plain dict (webhook payloads, error bodies)."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def charge_result(intent, currency: str) -> ChargeResult:
    """A PaymentIntent (an SDK object or a webhook's dict) as billing reads it."""
    status = PI_STATUSES.get(_get(intent, "status"), PROCESSING)
    error = _get(intent, "last_payment_error") or {}
    code, message = "", ""
    if status == FAILED:
        code = _get(error, "decline_code") or _get(error, "code") or "payment_failed"
        message = _get(error, "message") or "The payment failed."
    metadata = _get(intent, "metadata") or {}
    charge = _get(intent, "latest_charge") or ""
    return ChargeResult(
        reference=_get(intent, "id", ""),
        charge=charge if isinstance(charge, str) else _get(charge, "id", ""),
        status=status,
        failure_code=code,
        failure_message=message,
        client_secret=_get(intent, "client_secret", "") or "",
        metadata=metadata.to_dict() if hasattr(metadata, "to_dict") else dict(metadata),
    )


def saved_method(pm, mandate: str = "") -> SavedMethod:
    kind = _get(pm, "type")
    details = _get(pm, kind) or {}
    return SavedMethod(
        reference=_get(pm, "id"),
        type=kind,
        brand=_get(details, "brand", "") or _get(details, "bank_name", "") or "",
        last4=_get(details, "last4", "") or "",
        exp_month=_get(details, "exp_month"),
        exp_year=_get(details, "exp_year"),
        mandate_reference=mandate or _get(details, "mandate_reference", "") or "",
    )


class StripeGateway(Gateway):
    name = "stripe"
    collects_details_with = "stripe"

    def __init__(self, client: stripe.StripeClient | None = None):
        self.client = client or stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": settings.STRIPE_API_BASE},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        )

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TRANSIENT as exc:
            logger.warning("Stripe did not answer: %s", exc)
            raise GatewayUnavailable(str(exc)) from exc
        except stripe.StripeError as exc:
            message = exc.user_message or str(exc) or "The payment provider refused the request."
            raise GatewayRefused(message, code=exc.code or "gateway_refused") from exc

    def customer_ensure(self, *, account) -> str:
        if account.gateway_customer:
            return account.gateway_customer
        customer = self._call(
            self.client.v1.customers.create,
            params={
                "email": account.invoice_email or account.customer.email,
                "name": str(account.customer),
                "metadata": {"cos_account": str(account.pk)},
            },
            options={"idempotency_key": f"{settings.PAYMENT_KEY_PREFIX}-customer-{account.pk}"},
        )
        return customer.id

    def setup_start(self, *, customer: str, method_type: str) -> SetupStart:
        params = {"customer": customer, "payment_method_types": [method_type], "usage": "off_session"}
        if method_type == "us_bank_account":
            # ACH: the bank account is verified instantly (Financial Connections) or by microdeposits.
            params["payment_method_options"] = {"us_bank_account": {"verification_method": "automatic"}}
        intent = self._call(self.client.v1.setup_intents.create, params=params)
        return SetupStart(reference=intent.id, client_secret=intent.client_secret)

    def setup_complete(self, *, customer: str, setup_reference: str = "", details: dict | None = None) -> SavedMethod:
        """After Stripe.js confirmed the SetupIntent (mandate accepted for debits): the method it saved."""
        intent = self._call(self.client.v1.setup_intents.retrieve, setup_reference)
        if intent.customer and intent.customer != customer:
            raise GatewayRefused("This setup belongs to another customer.", code="setup_mismatch")
        if intent.status != "succeeded":
            raise GatewayRefused(
                "The payment method was not confirmed"
                + (" (waiting for the bank's verification)." if intent.status == "requires_action" else "."),
                code=f"setup_{intent.status}",
            )
        pm = self._call(self.client.v1.payment_methods.retrieve, _get(intent, "payment_method"))
        if _get(pm, "customer") != customer:
            pm = self._call(self.client.v1.payment_methods.attach, pm.id, params={"customer": customer})
        mandate = _get(intent, "mandate") or ""
        return saved_method(pm, mandate if isinstance(mandate, str) else _get(mandate, "id", ""))

    def method_remove(self, *, reference: str) -> None:
        self._call(self.client.v1.payment_methods.detach, reference)

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
        params = {
            "amount": minor_units(amount, currency),
            "currency": currency.lower(),
            "customer": customer,
            "payment_method": method,
            "payment_method_types": [method_type],
            "confirm": True,
            "metadata": {k: str(v) for k, v in metadata.items()},
        }
        if off_session:
            params["off_session"] = True
        try:
            intent = self.client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
        except TRANSIENT as exc:
            logger.warning("Charge %s: Stripe did not answer: %s", key, exc)
            raise GatewayUnavailable(str(exc)) from exc
        except stripe.CardError as exc:
            # Declined, or (off session) the bank wants the subscriber to authenticate.
            body = (exc.json_body or {}).get("error", {})
            intent = body.get("payment_intent") or {}
            reference = intent.get("id", "")
            if exc.code == "authentication_required":
                return ChargeResult(reference, REQUIRES_ACTION, client_secret=intent.get("client_secret", ""))
            return ChargeResult(
                reference,
                FAILED,
                body.get("decline_code") or exc.code or "card_declined",
                exc.user_message or "The card was declined.",
                metadata=metadata,
            )
        except stripe.StripeError as exc:
            return ChargeResult("", FAILED, exc.code or "refused", exc.user_message or str(exc), metadata=metadata)
        return charge_result(intent, currency)

    def charge_cancel(self, *, reference: str) -> None:
        self._call(self.client.v1.payment_intents.cancel, reference)

    def charge_status(self, *, reference: str, currency: str) -> ChargeResult:
        return charge_result(self._call(self.client.v1.payment_intents.retrieve, reference), currency)

    def refund(self, *, charge: str, amount: Decimal, currency: str, key: str, metadata: dict) -> RefundResult:
        try:
            refund = self.client.v1.refunds.create(
                params={
                    "payment_intent": charge,
                    "amount": minor_units(amount, currency),
                    "metadata": {k: str(v) for k, v in metadata.items()},
                },
                options={"idempotency_key": key},
            )
        except TRANSIENT as exc:
            raise GatewayUnavailable(str(exc)) from exc
        except stripe.StripeError as exc:
            return RefundResult("", FAILED, exc.user_message or str(exc))
        # pending and requires_action are still on their way (bank debits): a webhook tells how they end
        status = {"succeeded": SUCCEEDED, "pending": "pending", "requires_action": "pending"}.get(refund.status, FAILED)
        return RefundResult(refund.id, status, "" if status != FAILED else (refund.get("failure_reason") or ""))

    def event_parse(self, *, payload: bytes, signature: str) -> GatewayEvent:
        try:
            stripe.Webhook.construct_event(
                payload, signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE
            )
        except stripe.SignatureVerificationError as exc:
            raise SignatureInvalid(f"The Stripe signature does not verify: {exc.user_message or exc}") from exc
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise EventMalformed("The body is not a Stripe event.") from exc
        return event_of(payload)


def amount_of(obj: dict, currency: str, field: str = "amount") -> Decimal:
    return from_minor_units(int(obj.get(field) or 0), currency)
