"""The subscriber's billing preferences: how an account is collected and where its invoices go."""

from django.db import transaction

from billing.choices import Collection, Delivery
from billing.models import BillingAccount
from cos import events
from cos.errors import ApplicationError

PREFERENCE_FIELDS = ("collection", "delivery", "invoice_email")


def preferences_problems(*, collection: str, delivery: str, invoice_email: str) -> dict[str, str]:
    """What is wrong with a set of preferences, per field (empty when they can be saved)."""
    problems = {}
    if collection not in Collection.values:
        problems["collection"] = "Choose how your invoices are paid."
    if delivery not in Delivery.values:
        problems["delivery"] = "Choose how your invoices are delivered."
    if delivery == Delivery.EMAIL and not invoice_email:
        problems["invoice_email"] = "Enter the e-mail address your invoices are sent to."
    return problems


@transaction.atomic
def billing_preferences_update(
    *, account_id: int, collection: str, delivery: str, invoice_email: str, actor=None
) -> BillingAccount:
    """Change the account's collection, delivery and invoice e-mail. Emits billing_account.preferences_changed.

    The caller has checked that the actor may change this account (a subscriber: their own).
    """
    invoice_email = (invoice_email or "").strip()
    problems = preferences_problems(collection=collection, delivery=delivery, invoice_email=invoice_email)
    if problems:
        raise ApplicationError(" ".join(problems.values()), code="invalid_preferences", extra={"fields": problems})
    account = BillingAccount.objects.select_for_update().get(pk=account_id)
    if (
        collection == Collection.AUTOMATIC
        and not account.payment_methods.filter(is_default=True, removed_at__isnull=True).exists()
    ):
        message = "Add a payment method first: automatic collection charges the default payment method on file."
        raise ApplicationError(message, code="no_payment_method", extra={"fields": {"collection": message}})
    wanted = {"collection": collection, "delivery": delivery, "invoice_email": invoice_email}
    old = {field: getattr(account, field) for field in PREFERENCE_FIELDS}
    if old == wanted:
        return account
    for field, value in wanted.items():
        setattr(account, field, value)
    account.save(update_fields=[*PREFERENCE_FIELDS, "updated_at"])
    events.publish(
        "billing_account.preferences_changed",
        account_id=account.pk,
        old=old,
        new=wanted,
        actor_id=getattr(actor, "pk", None),
    )
    return account
