"""Billing test data: a live subscription ready to be billed, and billing rules."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.test import TestCase

from billing import services
from billing.models import BillingConfig
from marketplace import services as marketplace_services
from marketplace.models import Subscription
from tests.marketplace.factories import world


def subscription(w=None, **subscription_fields) -> Subscription:
    """An accepted internet subscription (pending until activated), optionally with changed commercial terms."""
    w = w or world()
    with TestCase.captureOnCommitCallbacks(execute=True):
        marketplace_services.order_place(request=w.request())
    sub = Subscription.objects.filter(customer=w.customer).order_by("-pk").first()
    if subscription_fields:
        Subscription.objects.filter(pk=sub.pk).update(**subscription_fields)
        sub.refresh_from_db()
    return sub


def subscriptions(w, *products) -> list[Subscription]:
    """One order of several products (e.g. internet and TV): one subscription each, on one billing account."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        order = marketplace_services.order_place(request=w.request(*products))[0]
    return list(Subscription.objects.filter(order_line__order=order).order_by("pk"))


def at(day, hour=12, tz="Europe/Stockholm") -> datetime:
    """A moment on a local day of the marketplace."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(tz))


def activate(sub: Subscription, day, capture=None):
    """The verified activation on `day`: the subscription goes active and the first invoice is issued."""
    from cos.fsm import transition_apply

    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=sub.pk)
        transition_apply(sub, "activate", at=at(day))
        sub.save()
    return services.activation_invoice(subscription_id=sub.pk, activated_at=at(day))


def rules(marketplace, provider=None, **fields) -> BillingConfig:
    config, _ = BillingConfig.objects.update_or_create(marketplace=marketplace, provider=provider, defaults=fields)
    return config


# The offline gateway's test numbers (billing.gateways.offline).
TEST_CARD = {"type": "card", "number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}
DECLINED_CARD = {**TEST_CARD, "number": "4000000000000341"}
NSF_CARD = {**TEST_CARD, "number": "4000000000009995"}
THREE_D_SECURE_CARD = {**TEST_CARD, "number": "4000002500003155"}
SEPA_OK = {"type": "sepa_debit", "iban": "DE89370400440532013000"}
SEPA_FAILS = {"type": "sepa_debit", "iban": "DE62370400440532013001"}
ACH_OK = {"type": "us_bank_account", "routing_number": "110000000", "account_number": "000123456789"}
ACH_FAILS = {"type": "us_bank_account", "routing_number": "110000000", "account_number": "000111111116"}
