"""Billing admin: list pages with a flat query count, filters and search, actions that call the services."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import overrides, services
from billing.choices import Collection, InvoiceKind, InvoiceStatus, LineKind, OverrideKind
from billing.models import BillingAccount, Invoice, InvoiceLine, PricingOverride, ReasonCode
from billing.runs import billing_chunk, billing_run
from cos.models import TransitionLog
from tests.billing.factories import activate, rules, subscription

pytestmark = pytest.mark.django_db

MAX_QUERIES_PER_PAGE = 20
CHANGELISTS = [
    "billing_invoice",
    "billing_invoiceline",
    "billing_pricingoverride",
    "billing_billingaccount",
    "billing_billingconfig",
    "billing_reasoncode",
    "billing_billingrun",
]


@pytest.fixture
def root(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def goodwill():
    return ReasonCode.objects.create(code="goodwill", label="Goodwill")


def _issued(**subscription_fields) -> Invoice:
    invoice = activate(subscription(**subscription_fields), date(2026, 2, 10))
    assert invoice.status == InvoiceStatus.OPEN
    return invoice


def _draft() -> Invoice:
    sub = subscription()
    rules(sub.marketplace, review_minutes=60)
    return activate(sub, date(2026, 2, 10))


def _billing_data(count: int, actor, reason) -> None:
    """`count` customers with an issued invoice, a credit note, a draft, and a billing run."""
    for _ in range(count):
        invoice = _issued()
        overrides.invoice_credit(invoice_id=invoice.pk, amount="10.00", reason_code=reason, actor=actor)
    _draft()
    billing_run(as_of=date(2026, 3, 1), dispatch=_in_process)


def _in_process(run_id, account_ids, as_of) -> None:
    billing_chunk(run_id=run_id, account_ids=account_ids, as_of=as_of)


def _act(client, action: str, invoices, **form):
    """Post an admin action on the invoice list; with a form, post it filled in (as the operator would)."""
    data = {"action": action, "_selected_action": [invoice.pk for invoice in invoices], **form}
    if form:
        data["apply"] = "1"
    return client.post(reverse("admin:billing_invoice_changelist"), data, follow=True)


def _messages(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


# --- list pages --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", CHANGELISTS)
def test_billing_list_pages_take_the_same_queries_for_one_row_or_many(model, root, goodwill):
    url = reverse(f"admin:{model}_changelist")
    # given: a little billing data
    _billing_data(1, root.user, goodwill)
    with CaptureQueriesContext(connection) as few:
        assert root.get(url).status_code == 200
    # when: much more of it
    _billing_data(4, root.user, goodwill)
    # then: the page takes no more queries, and stays within the admin's budget
    with CaptureQueriesContext(connection) as many:
        response = root.get(url)
    assert response.status_code == 200
    assert len(many) <= len(few)
    assert len(many) <= MAX_QUERIES_PER_PAGE


def test_invoice_list_stays_within_the_budget_with_many_invoices(root, goodwill, django_assert_max_num_queries):
    _billing_data(6, root.user, goodwill)
    assert Invoice.objects.count() >= 13
    with django_assert_max_num_queries(MAX_QUERIES_PER_PAGE):
        response = root.get(reverse("admin:billing_invoice_changelist"), {"overdue": "yes", "status": "open"})
    assert response.status_code == 200


def test_invoice_list_shows_customer_total_and_state(root):
    invoice = _issued()
    body = root.get(reverse("admin:billing_invoice_changelist")).content.decode()
    assert invoice.number in body
    assert str(invoice.account.customer) in body
    assert "957.19" in body


def test_overdue_filter_lists_open_and_late_invoices_past_their_due_day(root):
    # given: one invoice past due, one not yet due, one past due but paid
    overdue, current, paid = _issued(), _issued(), _issued()
    yesterday = date.today() - timedelta(days=1)
    Invoice.objects.filter(pk__in=[overdue.pk, paid.pk]).update(due_on=yesterday)
    Invoice.objects.filter(pk=paid.pk).update(status=InvoiceStatus.PAID, amount_paid=paid.total)
    # when
    response = root.get(reverse("admin:billing_invoice_changelist"), {"overdue": "yes"})
    # then
    shown = {invoice.pk for invoice in response.context["cl"].result_list}
    assert shown == {overdue.pk}
    assert current.pk not in shown


def test_invoice_search_by_number(root):
    # given: the activation invoice and, a month later, the cycle invoice of the same issuer
    first = _issued()
    billing_chunk(run_id=None, account_ids=[first.account_id], as_of=date(2026, 3, 1))
    services.invoices_finalize_due()
    cycle = Invoice.objects.exclude(pk=first.pk).get(account=first.account)
    assert cycle.number
    assert cycle.number != first.number
    # when
    response = root.get(reverse("admin:billing_invoice_changelist"), {"q": cycle.number})
    # then
    assert [invoice.pk for invoice in response.context["cl"].result_list] == [cycle.pk]


@pytest.mark.parametrize("term", ["email", "last_name"])
def test_invoice_search_by_customer(term, root):
    wanted, other = _issued(), _issued()
    response = root.get(reverse("admin:billing_invoice_changelist"), {"q": getattr(wanted.account.customer, term)})
    shown = {invoice.pk for invoice in response.context["cl"].result_list}
    assert wanted.pk in shown
    assert other.pk not in shown


def test_a_finalized_invoice_page_shows_lines_and_history_and_cannot_be_saved(root):
    invoice = _issued()
    response = root.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Start fee" in body
    assert "transition history" in body.lower()
    assert 'name="_save"' not in body
    # a post to the page changes nothing
    root.post(reverse("admin:billing_invoice_change", args=[invoice.pk]), {"total": "1.00", "status": "draft"})
    invoice.refresh_from_db()
    assert (invoice.total, invoice.status) == (Decimal("957.19"), InvoiceStatus.OPEN)


def test_accounts_without_an_automatic_collection(root):
    manual, automatic = _issued().account, _issued().account
    BillingAccount.objects.filter(pk=automatic.pk).update(collection=Collection.AUTOMATIC)
    response = root.get(reverse("admin:billing_billingaccount_changelist"), {"automatic_collection": "without"})
    shown = {account.pk for account in response.context["cl"].result_list}
    assert shown == {manual.pk}


def test_the_override_audit_shows_who_when_old_new_and_why(root, goodwill):
    invoice = _issued()
    overrides.invoice_credit(invoice_id=invoice.pk, amount="100.00", reason_code=goodwill, actor=root.user)
    body = root.get(reverse("admin:billing_pricingoverride_changelist")).content.decode()
    for shown in ("root", "957.19", "832.19", "Goodwill", invoice.number, "Credit"):
        assert shown in body


def test_the_override_audit_cannot_be_edited_or_deleted(root, goodwill):
    invoice = _issued()
    override = overrides.invoice_credit(invoice_id=invoice.pk, amount="1.00", reason_code=goodwill, actor=root.user)
    assert root.get(reverse("admin:billing_pricingoverride_add")).status_code == 403
    assert (
        root.post(reverse("admin:billing_pricingoverride_delete", args=[override.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert PricingOverride.objects.filter(pk=override.pk).exists()


# --- actions -----------------------------------------------------------------------------------


def test_finalize_action_numbers_and_issues_a_draft(root):
    draft = _draft()
    response = _act(root, "action_invoice_finalize", [draft])
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.OPEN
    assert draft.number.startswith("INV-")
    assert "1 done" in _messages(response)
    assert TransitionLog.objects.get(object_id=draft.pk, target=InvoiceStatus.OPEN).actor == root.user


def test_finalize_action_on_an_issued_invoice_shows_the_refusal(root):
    invoice = _issued()
    response = _act(root, "action_invoice_finalize", [invoice])
    assert "not a draft" in _messages(response)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_void_action_asks_for_a_reason_then_voids(root):
    # given
    invoice = _issued()
    # when: the action is chosen, a form asks why
    form_page = _act(root, "void", [invoice])
    assert "Why" in form_page.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    # when: the reason is given
    response = _act(root, "void", [invoice], reason="sent to the wrong customer")
    # then
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    assert "voided" in _messages(response)
    log = TransitionLog.objects.get(object_id=invoice.pk, target=InvoiceStatus.VOID)
    assert (log.actor, log.reason) == (root.user, "sent to the wrong customer")


def test_credit_action_issues_a_credit_note_through_the_service(root, goodwill):
    invoice = _issued()
    response = _act(root, "credit", [invoice], amount="100.00", reason_code=goodwill.pk, note="outage")
    credit_note = Invoice.objects.get(corrects=invoice)
    assert (credit_note.kind, credit_note.total) == (InvoiceKind.CREDIT_NOTE, Decimal("-125.00"))
    override = PricingOverride.objects.get()
    assert (override.kind, override.actor, override.reason_code, override.note) == (
        OverrideKind.CREDIT,
        root.user,
        goodwill,
        "outage",
    )
    assert "credit note" in _messages(response)
    invoice.refresh_from_db()
    assert invoice.total == Decimal("957.19")


def test_credit_action_shows_a_refusal_and_writes_nothing(root, goodwill):
    invoice = _issued()
    response = _act(root, "credit", [invoice], amount="5000.00", reason_code=goodwill.pk, note="")
    assert "more than is left to credit" in _messages(response)
    assert not Invoice.objects.filter(corrects=invoice).exists()
    assert not PricingOverride.objects.exists()


def test_discount_action_on_a_draft_adds_an_adjustment_line(root, goodwill):
    draft = _draft()
    _act(root, "discount", [draft], amount="100.00", reason_code=goodwill.pk, note="")
    draft.refresh_from_db()
    assert draft.lines.get(kind=LineKind.ADJUSTMENT).amount == Decimal("-100.00")
    assert draft.total == Decimal("832.19")


def test_write_off_action_refuses_an_open_invoice_and_writes_off_a_late_one(root, goodwill):
    from billing.selectors import config_for

    # given: an open invoice and a late one
    current, late = _issued(), _issued()
    services.late_invoice(invoice_id=late.pk, config=config_for(late.marketplace_id, late.issuer_id))
    # when
    response = _act(root, "write_off", [current, late], reason_code=goodwill.pk, note="")
    # then
    current.refresh_from_db()
    late.refresh_from_db()
    assert current.status == InvoiceStatus.OPEN
    assert late.status == InvoiceStatus.UNCOLLECTIBLE
    shown = _messages(response)
    assert f"{current}: Invoice {current} is open: only a late invoice can be written off." in shown
    assert f"{late}: written off." in shown


def test_override_actions_are_not_offered_to_staff_without_the_permission(client, django_user_model, goodwill):
    # given: operations staff who may look at and finalize invoices, but not override prices
    user = django_user_model.objects.create_user("ops", "ops@example.test", "pw-123456", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=["view_invoice", "change_invoice"])
    )
    client.force_login(user)
    invoice = _issued()
    # when
    page = client.get(reverse("admin:billing_invoice_changelist")).content.decode()
    response = _act(client, "credit", [invoice], amount="10.00", reason_code=goodwill.pk, note="")
    # then: the override actions are not there, and posting one anyway does nothing
    assert 'value="action_invoice_finalize"' in page
    assert 'value="credit"' not in page
    assert 'value="write_off"' not in page
    assert response.status_code == 200
    assert not Invoice.objects.filter(corrects=invoice).exists()
    assert not PricingOverride.objects.exists()


def test_manual_price_action_on_a_draft_line(root, goodwill):
    draft = _draft()
    line = draft.lines.get(kind=LineKind.PRORATED)
    response = root.post(
        reverse("admin:billing_invoiceline_changelist"),
        {
            "action": "manual_price",
            "_selected_action": [line.pk],
            "apply": "1",
            "amount": "200.00",
            "reason_code": goodwill.pk,
            "note": "",
        },
        follow=True,
    )
    line.refresh_from_db()
    draft.refresh_from_db()
    assert line.amount == Decimal("200.00")
    assert draft.total == Decimal("868.75")
    assert "now 200.00" in _messages(response)
    assert InvoiceLine.objects.filter(invoice=draft, kind=LineKind.TAX).get().amount == Decimal("173.75")


def test_an_account_page_shows_its_schedules_and_keeps_billing_fields_read_only(root):
    # given
    account = _issued().account
    url = reverse("admin:billing_billingaccount_change", args=[account.pk])
    # when
    body = root.get(url).content.decode()
    response = root.post(
        url,
        {
            "invoice_email": "billing@example.test",
            "delivery": "portal",
            "collection": "automatic",
            "schedules-TOTAL_FORMS": "1",
            "schedules-INITIAL_FORMS": "1",
        },
    )
    assert response.status_code == 302
    # then: the schedule says billing has reached 1 March; only the delivery details changed
    assert "March 1, 2026" in body or "2026-03-01" in body
    account.refresh_from_db()
    assert (account.invoice_email, account.delivery) == ("billing@example.test", "portal")
    assert account.collection == Collection.MANUAL
