"""A chunk of the billing run writes its invoices and lines as rows (no model instances): the rows are those the
model path wrote, column for column, on a data set with every kind of line the cycle bills."""

import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import DateTimeField
from django.utils import timezone

from billing import changes, engine
from billing.choices import InvoiceReason
from billing.models import BillingRun, BillingSchedule, Invoice, InvoiceLine, Pause, RateChange
from billing.runs import billing_chunk, due_account_ids
from billing.selectors import config_for, terms_for
from billing.services import invoice_draft_build, invoice_line_row, lines_numbered
from marketplace.choices import BillingCycle, PromotionKind
from marketplace.models import Marketplace, Product
from tests.billing.factories import activate, at, rules, subscription, subscriptions
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 4, 1)  # March and April due for most: two periods per schedule


def _chunk_with_model_instances(*, run_id: int, account_ids: list[int], as_of: date) -> None:
    """The chunk as it was written with model instances: schedules as models, each period priced day by day
    (`period_lines`), drafts built by `invoice_draft_build`, lines by `invoice_line_row`, both `bulk_create`d."""
    schedules = list(
        BillingSchedule.objects.filter(account_id__in=account_ids, billed_until__lte=as_of)
        .select_related("subscription__product", "subscription__marketplace", "account")
        .order_by("pk")
    )
    rates, pauses, names = defaultdict(list), defaultdict(list), defaultdict(list)
    for r in RateChange.objects.filter(schedule__in=schedules).values_list(
        "schedule_id", "effective_on", "monthly_amount", "product__name"
    ):
        rates[r[0]].append((r[1], r[2]))
        names[r[0]].append((r[1], r[3] or ""))
    for p in Pause.objects.filter(schedule__in=schedules).values_list("schedule_id", "starts_on", "ends_on"):
        pauses[p[0]].append((p[1], p[2]))
    by_account = defaultdict(list)
    for schedule in schedules:
        if schedule.ends_on is not None and schedule.billed_until >= schedule.ends_on:
            continue
        terms = terms_for(schedule, rates=rates[schedule.pk], pauses=pauses[schedule.pk], names=names[schedule.pk])
        lines, until = [], schedule.billed_until
        while until <= as_of and until < (terms.ends_on or date.max):
            period = terms.period_of(until)
            lines += engine.period_lines(terms, period)
            until = period.end
        schedule.billed_until = until
        by_account[schedule.account_id].append((schedule, lines))
    invoices, pending = [], []
    for items in by_account.values():
        lines = [line for _, schedule_lines in items for line in schedule_lines]
        if not lines:
            continue
        account, marketplace = items[0][0].account, items[0][0].subscription.marketplace
        invoice, every = invoice_draft_build(
            account,
            lines,
            marketplace=marketplace,
            reason=InvoiceReason.CYCLE,
            review_minutes=config_for(marketplace.pk, account.provider_id).review_minutes,
            run_id=run_id,
        )
        invoices.append(invoice)
        pending.append(every)
    Invoice.objects.bulk_create(invoices)
    rows = [invoice_line_row(invoice, line) for invoice, every in zip(invoices, pending, strict=True) for line in every]
    InvoiceLine.objects.bulk_create(lines_numbered(rows))
    for schedule in schedules:
        BillingSchedule.objects.filter(pk=schedule.pk).update(billed_until=schedule.billed_until)


def _written() -> dict:
    """Every column of the cycle's invoices and lines (ids as positions, moments as the review window's minutes),
    the schedules' columns, and the rows as the database stores them."""
    invoices = list(Invoice.objects.filter(reason=InvoiceReason.CYCLE).order_by("pk").values())
    position = {invoice["id"]: n for n, invoice in enumerate(invoices)}
    for invoice in invoices:
        created, updated = invoice.pop("created_at"), invoice.pop("updated_at")
        assert abs((updated - created).total_seconds()) < 1
        invoice["review_minutes"] = round((invoice.pop("finalize_after") - created).total_seconds() / 60)
        del invoice["id"]
    lines = list(InvoiceLine.objects.filter(invoice_id__in=position).order_by("pk").values())
    for line in lines:
        del line["id"]
        line["invoice_id"] = position[line["invoice_id"]]
    return {
        "invoices": invoices,
        "lines": lines,
        "schedules": list(BillingSchedule.objects.order_by("pk").values()),
        "stored": _stored(Invoice, position) + _stored(InvoiceLine, list(position), by="invoice_id"),
    }


def _stored(model, ids, *, by: str = "id") -> list[tuple]:
    """The rows as the database holds them, each column read as text (a value stored in another form, e.g. a moment
    with or without its offset, reads differently); moments reduced to their form, ids left out."""
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if f.column not in ("id", "invoice_id")]
    columns = ", ".join(f"CAST({quote(f.column)} AS TEXT)" for f in fields)
    placeholders = ", ".join(["%s"] * len(ids)) or "NULL"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {quote(by)} IN ({placeholders}) ORDER BY id",
            list(ids),
        )
        rows = cursor.fetchall()
    moments = [isinstance(f, DateTimeField) for f in fields]
    return [
        tuple(
            re.sub(r"\d", "0", re.sub(r"\.\d+", "", v)) if moment and v else v
            for v, moment in zip(row, moments, strict=True)
        )
        for row in rows
    ]


def _data_set() -> None:
    """Prorated months, promotions of each kind (some ending mid-month), the anniversary cycle, a plan change and a
    pause inside the period, an open pause, a termination, two subscriptions on one account, marketplaces with
    different tax rates and review windows (a provider's, a marketplace's, none), one whose prices include tax,
    and a product name COPY has to escape. Each subscriber but the first comes with a marketplace and a provider of
    their own."""
    w = world()
    rules(w.marketplace, review_minutes=7 * 24 * 60)
    internet, tv = subscriptions(w, w.internet, w.tv)  # one account, one invoice
    for sub in (internet, tv):
        activate(sub, date(2026, 2, 10))
    promotions = [
        (date(2026, 1, 15), PromotionKind.PERCENT_OFF, Decimal("50"), 3),  # ends 15 April: April prorated
        (date(2026, 2, 3), PromotionKind.AMOUNT_OFF, Decimal("100.00"), 2),
        (date(2026, 2, 20), PromotionKind.FREE_MONTHS, None, 1),
    ]
    for day, kind, value, periods in promotions:
        activate(subscription(promotion_kind=kind, promotion_value=value, promotion_periods=periods), day)
    activate(subscription(billing_cycle=BillingCycle.ANNIVERSARY), date(2026, 1, 31))
    upgraded = subscription()
    activate(upgraded, date(2026, 2, 10))
    changes.rate_change_apply(
        subscription_id=upgraded.pk, at=at(date(2026, 3, 10)), monthly_amount="549.00", product_id=upgraded.product_id
    )
    resumed = subscription()
    activate(resumed, date(2026, 2, 10))
    changes.pause_start(subscription_id=resumed.pk, at=at(date(2026, 2, 20)))
    changes.pause_end(subscription_id=resumed.pk, at=at(date(2026, 3, 15)))
    paused = subscription()
    activate(paused, date(2026, 2, 10))
    changes.pause_start(subscription_id=paused.pk, at=at(date(2026, 3, 5)))
    ended = subscription()
    activate(ended, date(2026, 2, 10))
    changes.billing_stop(subscription_id=ended.pk, deactivated_at=at(date(2026, 2, 25)))
    other = world()
    Marketplace.objects.filter(pk=other.marketplace.pk).update(tax_rate=Decimal("0.1200"))
    Product.objects.filter(pk=other.internet.pk).update(name='Fiber\t"10G"\\max\nplus, 100%')
    rules(other.marketplace, provider=other.provider, review_minutes=90)
    activate(subscription(other), date(2026, 2, 17))
    consumer = world()  # prices including VAT: each line's tax of its own
    Marketplace.objects.filter(pk=consumer.marketplace.pk).update(prices_include_tax=True)
    promoted = {"promotion_kind": PromotionKind.PERCENT_OFF, "promotion_value": Decimal("30"), "promotion_periods": 2}
    activate(subscription(consumer, **promoted), date(2026, 2, 13))


def test_a_chunk_writes_the_rows_the_model_path_wrote():
    # given: the data set, and what the model path writes for it (undone afterwards)
    _data_set()
    run = BillingRun.objects.create(as_of=AS_OF, chunks=1)
    accounts = due_account_ids(AS_OF)
    with transaction.atomic():
        _chunk_with_model_instances(run_id=run.pk, account_ids=accounts, as_of=AS_OF)
        expected = _written()
        transaction.set_rollback(True)
    # when
    invoices, lines = billing_chunk(run_id=run.pk, account_ids=accounts, as_of=AS_OF)
    # then: the same rows, column for column
    written = _written()
    assert (invoices, lines) == (len(expected["invoices"]), len(expected["lines"]))
    assert written["invoices"] == expected["invoices"]
    assert written["lines"] == expected["lines"]
    assert written["schedules"] == expected["schedules"]
    assert written["stored"] == expected["stored"]
    # and the data set covered what it says it covers
    kinds = {line["kind"] for line in written["lines"]}
    assert kinds == {"recurring", "prorated", "promotion", "tax"}
    assert {invoice["tax_rate"] for invoice in written["invoices"]} == {Decimal("0.2500"), Decimal("0.1200")}
    assert {invoice["prices_include_tax"] for invoice in written["invoices"]} == {False, True}
    assert any(line["tax"] for line in written["lines"] if line["kind"] == "promotion")
    assert {invoice["review_minutes"] for invoice in written["invoices"]} == {7 * 24 * 60, 90, 0}
    assert any("\t" in line["description"] and "\\" in line["description"] for line in written["lines"])
    assert any(len([line for line in written["lines"] if line["invoice_id"] == n]) > 3 for n in range(invoices))


def test_the_rows_of_a_chunk_are_the_invoices_due():
    # given: internet and TV on one account, activated on 10 February
    w = world()
    internet, tv = subscriptions(w, w.internet, w.tv)
    for sub in (internet, tv):
        activate(sub, date(2026, 2, 10))
    # when: the run for 1 March
    billing_chunk(run_id=None, account_ids=due_account_ids(date(2026, 3, 1)), as_of=date(2026, 3, 1))
    # then: one draft (numbered when finalized), March for each, VAT 25 % on the net
    invoice = Invoice.objects.get(reason=InvoiceReason.CYCLE)
    assert (invoice.kind, invoice.status, invoice.number, invoice.run_id) == ("invoice", "draft", "", None)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (Decimal("598.00"), Decimal("149.50"), Decimal("747.50"))
    assert invoice.finalize_after <= timezone.now()  # no review window: finalized by the next sweep
    assert [(line.kind, line.description, line.amount) for line in invoice.lines.order_by("pk")] == [
        ("recurring", "Fiber 1000 2026-03-01 to 2026-03-31", Decimal("399.00")),
        ("recurring", "TV Bas 2026-03-01 to 2026-03-31", Decimal("199.00")),
        ("tax", "VAT 25% of 598.00", Decimal("149.50")),
    ]
