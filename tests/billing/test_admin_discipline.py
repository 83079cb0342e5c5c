"""Admin discipline in billing: invoices and the records of payments are never deleted; a reason code once used is
deleted by nobody, and reason codes and billing rules are deleted by admins only, never by finance."""

from datetime import date

import pytest
from django.urls import reverse

from billing import overrides
from billing.models import BillingConfig, Invoice, ReasonCode
from cos.models import Event
from cos.services import membership_grant
from tests.billing.factories import activate, rules, subscription
from tests.cos.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _login(client, role: str):
    user = UserFactory(username=role)
    membership_grant(user=user, organization=OrganizationFactory(kind="network_operator"), role=role)
    client.force_login(user)
    return user


@pytest.fixture
def root(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456")
    client.force_login(user)
    return user


def _delete(client, model: str, obj):
    url = reverse(f"admin:billing_{model}_delete", args=[obj.pk])
    return client.get(url), client.post(url, {"post": "yes"})


def test_an_invoice_is_never_deleted_not_even_by_a_superuser(client, root):
    # given: an issued invoice
    invoice = activate(subscription(), date(2026, 2, 10))
    # when
    page, posted = _delete(client, "invoice", invoice)
    # then
    assert (page.status_code, posted.status_code) == (403, 403)
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_finance_cannot_delete_a_reason_code(client):
    # given: a reason code nobody used yet, and someone of finance
    code = ReasonCode.objects.create(code="goodwill", label="Goodwill")
    _login(client, "finance")
    # when: the delete page, its post, and the bulk delete on the list
    page, posted = _delete(client, "reasoncode", code)
    bulk = client.post(
        reverse("admin:billing_reasoncode_changelist"),
        {"action": "delete_selected", "_selected_action": [code.pk], "post": "yes"},
    )
    # then: each refused, and the code is still there
    assert (page.status_code, posted.status_code) == (403, 403)
    assert bulk.status_code in (200, 302)
    assert ReasonCode.objects.filter(pk=code.pk).exists()


def test_an_admin_deletes_a_reason_code_nobody_used(client):
    # given
    code = ReasonCode.objects.create(code="typo", label="Tpyo")
    _login(client, "admin")
    # when
    response = client.post(reverse("admin:billing_reasoncode_delete", args=[code.pk]), {"post": "yes"})
    # then
    assert response.status_code == 302
    assert not ReasonCode.objects.filter(pk=code.pk).exists()


def test_a_used_reason_code_is_deleted_by_nobody_and_keeps_its_code(client, root):
    # given: a reason code on a credit note's override
    code = ReasonCode.objects.create(code="goodwill", label="Goodwill")
    invoice = activate(subscription(), date(2026, 2, 10))
    overrides.invoice_credit(invoice_id=invoice.pk, amount="10.00", reason_code=code, actor=root)
    # when: a superuser asks for its delete page and renames its code
    page, posted = _delete(client, "reasoncode", code)
    client.post(
        reverse("admin:billing_reasoncode_change", args=[code.pk]),
        {"code": "renamed", "label": "Goodwill (old)", "active": ""},
    )
    # then: it stays, under its code; it can be made inactive
    assert (page.status_code, posted.status_code) == (403, 403)
    code.refresh_from_db()
    assert (code.code, code.label, code.active) == ("goodwill", "Goodwill (old)", False)


def test_finance_cannot_delete_billing_rules_and_an_admin_can(client):
    # given: the billing rules of a marketplace
    config = rules(subscription().marketplace)
    _login(client, "finance")
    # when: finance tries
    page, posted = _delete(client, "billingconfig", config)
    # then: refused
    assert (page.status_code, posted.status_code) == (403, 403)
    assert BillingConfig.objects.filter(pk=config.pk).exists()
    # when: an admin does it
    _login(client, "admin")
    response = client.post(reverse("admin:billing_billingconfig_delete", args=[config.pk]), {"post": "yes"})
    # then
    assert response.status_code == 302
    assert not BillingConfig.objects.filter(pk=config.pk).exists()


def test_billing_rules_stay_with_their_marketplace(client):
    # given: the rules of one marketplace, and another marketplace
    config = rules(subscription().marketplace)
    marketplace_id = config.marketplace_id
    other = subscription().marketplace
    _login(client, "finance")
    # when: finance posts the rules' form naming the other marketplace
    client.post(
        reverse("admin:billing_billingconfig_change", args=[config.pk]),
        {
            "marketplace": other.pk,
            "provider": "",
            "billing_cycle": "",
            "due_days": "30",
            "review_minutes": "0",
            "late_fee_kind": config.late_fee_kind,
            "late_fee_value": "60.00",
            "late_fee_grace_days": "5",
            "late_fee_minimum_balance": "0.00",
            "refund_on_termination": "on",
            "recovery_fee": "0.00",
            "retry_days": "3,5,7",
            "notify_subscriber": "on",
            "suspend_after_days": "",
        },
    )
    # then: the rule is changed, the marketplace is not
    config.refresh_from_db()
    assert (config.due_days, config.marketplace_id) == (30, marketplace_id)


def _account_form(**values) -> dict:
    return {**values, "schedules-TOTAL_FORMS": "1", "schedules-INITIAL_FORMS": "1"}


def test_an_accounts_delivery_is_saved_through_the_preferences_service(client, root):
    # given: a billed account
    account = activate(subscription(), date(2026, 2, 10)).account
    url = reverse("admin:billing_billingaccount_change", args=[account.pk])
    # when: e-mail delivery is asked for without an address, then portal delivery with one
    refused = client.post(url, _account_form(delivery="email", invoice_email=""))
    saved = client.post(url, _account_form(delivery="portal", invoice_email="billing@example.test"))
    # then: the first is refused with the service's reason; the second is saved and recorded as a change
    assert refused.status_code == 200
    assert "Enter the e-mail address your invoices are sent to." in refused.content.decode()
    assert saved.status_code == 302
    account.refresh_from_db()
    assert (account.delivery, account.invoice_email) == ("portal", "billing@example.test")
    changed = Event.objects.get(name="billing_account.preferences_changed", payload__account_id=account.pk)
    assert changed.payload["actor_id"] == root.pk
    assert changed.payload["new"]["delivery"] == "portal"
