"""Row locks of the money paths, in the one order every path takes them: account -> invoices -> payments ->
refunds -> disputes; within a kind by ascending id, in one statement.

Every path that moves money (a gateway's answer or a webhook, a dunning retry, a refund, a credit note settled, an
invoice paid, a confirmation given up) locks through this module, so two paths that meet on the same rows wait for
each other instead of deadlocking. A path may leave out a kind it does not need, but never goes back to an earlier
one: nothing that holds a payment waits for its invoice. Rows a transaction has just created are its own and need
no lock.

The ids a caller needs to know first (a payment's invoice, a refund's payment) never change once a row exists, so
they are read without a lock.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction

from billing.models import BillingAccount, Dispute, Invoice, Payment, Refund


def _locked(queryset, ids: Iterable[int], related: tuple[str, ...] = ()) -> dict:
    """Lock the rows of `ids` in ascending id order (only these rows, not the related ones read with them)."""
    wanted = sorted({pk for pk in ids if pk is not None})
    if not wanted:
        return {}
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Row locks are taken inside a transaction: they would end with the statement.")
    rows = queryset.filter(pk__in=wanted).select_related(*related).select_for_update(of=("self",)).order_by("pk")
    return {row.pk: row for row in rows}


def account(account_id: int, *, related: tuple[str, ...] = ()) -> BillingAccount:
    """Lock the billing account (its credit balance, its payment methods)."""
    return _locked(BillingAccount.objects.all(), [account_id], related)[account_id]


def invoices(ids: Iterable[int], *, related: tuple[str, ...] = ()) -> dict[int, Invoice]:
    return _locked(Invoice.objects.all(), ids, related)


def invoice(invoice_id: int, *, related: tuple[str, ...] = ()) -> Invoice:
    """Lock one invoice (or credit note); Invoice.DoesNotExist when there is none."""
    found = invoices([invoice_id], related=related)
    if invoice_id not in found:
        raise Invoice.DoesNotExist(f"No invoice #{invoice_id}.")
    return found[invoice_id]


def payments(ids: Iterable[int], *, related: tuple[str, ...] = ()) -> dict[int, Payment]:
    return _locked(Payment.objects.all(), ids, related)


def refunds(ids: Iterable[int], *, related: tuple[str, ...] = ()) -> dict[int, Refund]:
    return _locked(Refund.objects.all(), ids, related)


def disputes(ids: Iterable[int], *, related: tuple[str, ...] = ()) -> dict[int, Dispute]:
    return _locked(Dispute.objects.all(), ids, related)


@dataclass
class Locked:
    """What `lock` holds, by id."""

    account: BillingAccount | None = None
    invoices: dict[int, Invoice] = field(default_factory=dict)
    payments: dict[int, Payment] = field(default_factory=dict)
    refunds: dict[int, Refund] = field(default_factory=dict)
    disputes: dict[int, Dispute] = field(default_factory=dict)


def lock(
    *,
    account_id: int | None = None,
    invoice_ids: Iterable[int] = (),
    payment_ids: Iterable[int] = (),
    refund_ids: Iterable[int] = (),
    dispute_ids: Iterable[int] = (),
    invoice_related: tuple[str, ...] = (),
    payment_related: tuple[str, ...] = (),
) -> Locked:
    """Lock these rows in the one order (account, invoices, payments, refunds, disputes; ids ascending)."""
    held = Locked()
    if account_id is not None:
        held.account = account(account_id)
    held.invoices = invoices(invoice_ids, related=invoice_related)
    held.payments = payments(payment_ids, related=payment_related)
    held.refunds = refunds(refund_ids)
    held.disputes = disputes(dispute_ids)
    return held


def payment_with_invoice(payment_id: int, *, payment_related: tuple[str, ...] = ()) -> tuple[Invoice | None, Payment]:
    """Lock a payment, after its invoice: returns (the invoice or None, the payment)."""
    invoice_id = Payment.objects.values_list("invoice_id", flat=True).get(pk=payment_id)
    invoice_ids = [invoice_id] if invoice_id else []
    held = lock(invoice_ids=invoice_ids, payment_ids=[payment_id], payment_related=payment_related)
    return held.invoices.get(invoice_id), held.payments[payment_id]


def refund_with_payment(refund_id: int) -> tuple[Payment, Refund]:
    """Lock a refund, after its payment."""
    payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
    held = lock(payment_ids=[payment_id], refund_ids=[refund_id], payment_related=("account",))
    return held.payments[payment_id], held.refunds[refund_id]
