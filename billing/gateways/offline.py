"""A gateway with no network, for `make run` and tests that are not about Stripe. Outcomes are deterministic, by
Stripe's own test numbers:

Cards (any future expiry, any 3-digit CVC)
    4242 4242 4242 4242   charges succeed
    4000 0000 0000 0002   declined when saved
    4000 0000 0000 0341   saved; every charge is declined
    4000 0000 0000 9995   saved; charges fail for insufficient funds
    4000 0025 0000 3155   charges need the subscriber to authenticate (3-D Secure)
SEPA Direct Debit (IBAN)
    DE89 3704 0044 0532 0130 00   processing, then succeeds
    DE62 3704 0044 0532 0130 01   processing, then fails
ACH Direct Debit (routing 110000000)
    account 000123456789   processing, then succeeds
    account 000111111116   processing, then fails

A method's behaviour is written into its reference, a charge's into its reference too (derived from the
idempotency key, so asking again returns the same charge): the gateway keeps no state of its own.
"""

import hashlib
import hmac
import re
import secrets
import time
from decimal import Decimal

from django.conf import settings

from billing.gateways.base import (
    FAILED,
    PROCESSING,
    REQUIRES_ACTION,
    SUCCEEDED,
    ChargeResult,
    Gateway,
    GatewayEvent,
    GatewayRefused,
    RefundResult,
    SavedMethod,
    SetupStart,
    SignatureInvalid,
    event_of,
)

CARDS = {
    "4242424242424242": ("ok", "visa"),
    "4000056655665556": ("ok", "visa"),
    "5555555555554444": ("ok", "mastercard"),
    "4000000000000002": ("refused", "visa"),
    "4000000000000341": ("decline", "visa"),
    "4000000000009995": ("nsf", "visa"),
    "4000002500003155": ("action", "visa"),
    "4000002760003184": ("action", "visa"),
}
IBANS = {"DE89370400440532013000": "ok", "DE62370400440532013001": "late_fail"}
ACH_ACCOUNTS = {"000123456789": "ok", "000111111116": "late_fail"}
ACH_ROUTING = "110000000"

FAILURES = {
    "decline": ("card_declined", "Your card was declined."),
    "nsf": ("insufficient_funds", "Your card has insufficient funds."),
    "late_fail": ("debit_failed", "The bank returned the debit (insufficient funds or no account)."),
}


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _clean(value) -> str:
    return re.sub(r"[\s-]", "", str(value or "")).upper()


class OfflineGateway(Gateway):
    name = "offline"
    collects_details_with = "form"

    def customer_ensure(self, *, account) -> str:
        return account.gateway_customer or f"off_cus_{account.pk}"

    def setup_start(self, *, customer: str, method_type: str) -> SetupStart:
        token = secrets.token_hex(8)
        return SetupStart(reference=f"off_seti_{token}", client_secret=f"off_seti_{token}_secret")

    def setup_complete(self, *, customer: str, setup_reference: str = "", details: dict | None = None) -> SavedMethod:
        details = details or {}
        kind = details.get("type")
        token = secrets.token_hex(6)
        if kind == "card":
            return self._card(details, token)
        if kind == "sepa_debit":
            iban = _clean(details.get("iban"))
            if not iban_valid(iban):
                raise GatewayRefused("That IBAN is not valid: check the country code and the digits.")
            behaviour = IBANS.get(iban, "ok")
            mandate = f"OFF-MANDATE-{token.upper()}"
            return SavedMethod(f"off_pm_sepa_debit_{behaviour}_{token}", kind, "", iban[-4:], None, None, mandate)
        if kind == "us_bank_account":
            routing, number = _clean(details.get("routing_number")), _clean(details.get("account_number"))
            if routing != ACH_ROUTING and not re.fullmatch(r"\d{9}", routing):
                raise GatewayRefused("The routing number has nine digits.")
            if not re.fullmatch(r"\d{4,17}", number):
                raise GatewayRefused("The account number has 4 to 17 digits.")
            behaviour = ACH_ACCOUNTS.get(number, "ok")
            mandate = f"OFF-MANDATE-{token.upper()}"
            return SavedMethod(
                f"off_pm_us_bank_account_{behaviour}_{token}", kind, "", number[-4:], None, None, mandate
            )
        raise GatewayRefused("Choose a card, a SEPA account or a US bank account.")

    def _card(self, details: dict, token: str) -> SavedMethod:
        number = _clean(details.get("number"))
        if not re.fullmatch(r"\d{13,19}", number) or not luhn_valid(number):
            raise GatewayRefused("That card number is not valid.")
        try:
            month, year = int(details.get("exp_month")), int(details.get("exp_year"))
        except (TypeError, ValueError):
            raise GatewayRefused("Enter the card's expiry month and year.") from None
        year = year + 2000 if year < 100 else year
        now = time.gmtime()
        if not 1 <= month <= 12 or (year, month) < (now.tm_year, now.tm_mon):
            raise GatewayRefused("The card has expired or its expiry date is not valid.")
        if not re.fullmatch(r"\d{3,4}", str(details.get("cvc") or "")):
            raise GatewayRefused("Enter the 3-digit security code (CVC).")
        behaviour, brand = CARDS.get(number, ("ok", "visa" if number.startswith("4") else "card"))
        if behaviour == "refused":
            raise GatewayRefused("Your card was declined.", code="card_declined")
        return SavedMethod(f"off_pm_card_{behaviour}_{token}", "card", brand, number[-4:], month, year)

    def method_remove(self, *, reference: str) -> None:
        return None

    @staticmethod
    def _behaviour(reference: str) -> str:
        for behaviour in ("late_fail", "decline", "nsf", "action", "ok"):
            if f"_{behaviour}_" in reference:
                return behaviour
        return "ok"

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
        behaviour = self._behaviour(method)
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        reference = f"off_pi_{method_type}_{behaviour}_{digest}"
        result = self.charge_status(reference=reference, currency=currency, settled=False)
        return ChargeResult(
            result.reference, result.status, result.failure_code, result.failure_message, result.client_secret, metadata
        )

    def charge_cancel(self, *, reference: str) -> None:
        return None

    def charge_status(self, *, reference: str, currency: str, settled: bool = True) -> ChargeResult:
        """A debit reads as processing when taken and as settled (or returned) when asked about later."""
        behaviour = self._behaviour(reference)
        delayed = "_sepa_debit_" in reference or "_us_bank_account_" in reference
        if behaviour == "action":
            return ChargeResult(reference, REQUIRES_ACTION, client_secret=f"{reference}_secret")
        if behaviour in ("decline", "nsf") or (behaviour == "late_fail" and settled):
            code, message = FAILURES[behaviour]
            return ChargeResult(reference, FAILED, code, message)
        if delayed and not settled:
            return ChargeResult(reference, PROCESSING)
        return ChargeResult(reference, SUCCEEDED)

    def authenticate(self, *, reference: str, success: bool) -> ChargeResult:
        """The subscriber's answer to the bank's challenge (what Stripe.js does in the browser)."""
        if success:
            return ChargeResult(reference, SUCCEEDED)
        return ChargeResult(reference, FAILED, "authentication_failed", "The payment was not confirmed.")

    def refund(self, *, charge: str, amount: Decimal, currency: str, key: str, metadata: dict) -> RefundResult:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return RefundResult(f"off_re_{digest}", SUCCEEDED)

    def event_parse(self, *, payload: bytes, signature: str) -> GatewayEvent:
        """Events signed with OFFLINE_WEBHOOK_SECRET as `t=<time>,v1=<hmac>` (the same scheme as Stripe's)."""
        parts = dict(part.split("=", 1) for part in signature.split(",") if "=" in part)
        expected = hmac.new(
            settings.OFFLINE_WEBHOOK_SECRET.encode(), f"{parts.get('t', '')}.".encode() + payload, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise SignatureInvalid("The event's signature does not match.")
        return event_of(payload)
