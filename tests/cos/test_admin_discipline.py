"""Admin discipline: audited records are never deleted through the admin, by anyone (a superuser included), and an
ONT's binding (serial, PON port, address) is never edited in place."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from billing.models import (
    BillingAccount,
    BillingRun,
    BillingSchedule,
    CreditEntry,
    Dispute,
    GatewayEvent,
    Invoice,
    InvoiceLine,
    Payment,
    PricingOverride,
    Refund,
)
from cos import events
from cos.models import ONT, Event, HandlerRun, Message, ProviderNotification, TransitionLog
from marketplace.models import Order, Price, Subscription, SubscriptionChange, Switch, ValidationFailure
from provisioning.models import ContractException, ProvisioningJob, ServiceInstance, ServicePeriod
from tests.cos.factories import AddressFactory, OLTFactory, ONTFactory, PonPortFactory
from workorders.models import Evidence, InstallationRecord, Task, WorkOrder

pytestmark = pytest.mark.django_db

AUDITED = [
    WorkOrder,
    Task,
    Evidence,
    InstallationRecord,
    Order,
    Event,
    HandlerRun,
    Invoice,
    Payment,
    TransitionLog,
    ServicePeriod,
    Refund,
    Dispute,
    GatewayEvent,
    ProvisioningJob,
    # the rest of the audit: contracts, their changes, the money's ledgers, what providers were told
    Subscription,
    SubscriptionChange,
    Switch,
    ValidationFailure,
    Price,
    ServiceInstance,
    ContractException,
    BillingAccount,
    BillingSchedule,
    InvoiceLine,
    CreditEntry,
    PricingOverride,
    BillingRun,
    ProviderNotification,
    Message,
]


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456")


@pytest.fixture
def root(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.parametrize("model", AUDITED, ids=lambda model: model._meta.label)
def test_no_one_deletes_an_audited_record_through_the_admin(model, superuser):
    # given: the admin of an audited model, asked by a superuser
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/admin/")
    request.user = superuser
    # then: no delete permission, on the list or on a row, and no bulk delete action
    assert model_admin.has_delete_permission(request) is False
    assert model_admin.has_delete_permission(request, model()) is False
    assert "delete_selected" not in model_admin.get_actions(request)


def test_an_event_and_its_handler_runs_are_never_deleted(root):
    # given: an event in the outbox
    event = events.publish("test.audited", value=1)
    url = reverse("admin:cos_event_delete", args=[event.pk])
    # when
    page = root.get(url)
    posted = root.post(url, {"post": "yes"})
    # then
    assert (page.status_code, posted.status_code) == (403, 403)
    assert Event.objects.filter(pk=event.pk).exists()


def test_an_onts_binding_is_not_edited_in_its_change_form(root):
    # given: an ONT bound to an address, on a PON port
    address = AddressFactory()
    ont = ONTFactory(serial="ADTN0000BEEF", pon_port=PonPortFactory(), address=address, bound_at=timezone.now())
    before = (ont.serial, ont.vendor, ont.pon_port_id, ont.address_id, ont.bound_at)
    elsewhere = PonPortFactory(olt=OLTFactory())
    # when: its change form is posted with another serial, PON port and address
    root.post(
        reverse("admin:cos_ont_change", args=[ont.pk]),
        {
            "serial": "ADTN0000CAFE",
            "vendor": "nokia",
            "model": "SDX 621v",
            "pon_port": elsewhere.pk,
            "address": AddressFactory().pk,
            "bound_at_0": "",
            "bound_at_1": "",
        },
    )
    # then: only the model name changed; the binding is what the technician's scan made it
    ont.refresh_from_db()
    assert ont.model == "SDX 621v"
    assert (ont.serial, ont.vendor, ont.pon_port_id, ont.address_id, ont.bound_at) == before


def test_an_ont_in_stock_is_added_unbound(root):
    # given
    port = PonPortFactory()
    # when: an ONT is added, with an address typed into the form
    response = root.post(
        reverse("admin:cos_ont_add"),
        {"serial": "ADTN0000F00D", "vendor": "adtran", "model": "SDX 621v", "pon_port": port.pk, "address": "1"},
    )
    # then: it is in stock, bound to nothing until a technician scans it at an address
    assert response.status_code == 302
    ont = ONT.objects.get(serial="ADTN0000F00D")
    assert (ont.pon_port, ont.address, ont.bound_at) == (port, None, None)


def _posted_as_shown(client, url: str, **changes) -> dict:
    """The change form as its page shows it (fields and inline management forms), with `changes` typed in."""
    context = client.get(url).context
    data = {
        name: value for name, value in context["adminform"].form.initial.items() if value is not None and name != "id"
    }
    for inline in context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data |= {management.add_prefix(name): value for name, value in management.initial.items()}
        data[management.add_prefix("TOTAL_FORMS")] = data[management.add_prefix("INITIAL_FORMS")]
    return {**data, **changes}


def test_an_organizations_kind_and_a_customers_login_are_not_changed_in_place(root, django_user_model):
    # given: a provider, and a customer with a portal login
    from tests.cos.factories import CustomerFactory, OrganizationFactory

    provider = OrganizationFactory(kind="service_provider")
    customer = CustomerFactory(user=django_user_model.objects.create_user("anna", "anna@example.test", "pw-123456"))
    someone_else = django_user_model.objects.create_user("eve", "eve@example.test", "pw-123456")
    organization_url = reverse("admin:cos_organization_change", args=[provider.pk])
    customer_url = reverse("admin:cos_customer_change", args=[customer.pk])
    # when: the provider is made the network operator, and the customer given another login
    root.post(organization_url, _posted_as_shown(root, organization_url, kind="network_operator", name="Renamed"))
    root.post(customer_url, _posted_as_shown(root, customer_url, user=someone_else.pk, phone="+46700000000"))
    # then: the other fields are saved, those two are not
    provider.refresh_from_db()
    customer.refresh_from_db()
    assert (provider.name, provider.kind) == ("Renamed", "service_provider")
    assert (customer.phone, customer.user.username) == ("+46700000000", "anna")


def test_every_change_page_of_the_demo_data_loads_with_its_guarded_fields_read_only(root):
    # given: the demo data
    from django.core.management import call_command

    call_command("seed_demo", addresses=40)
    # when: the page of the first row of every model in the admin is opened
    failures = {}
    for model, model_admin in admin.site._registry.items():
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            continue
        response = root.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk]))
        if response.status_code != 200:
            failures[model._meta.label] = response.status_code
            continue
        # then: no guarded field can be typed into
        form = response.context["adminform"].form
        editable = set(form.fields) & set(getattr(model_admin, "guarded_fields", ()))
        if editable:
            failures[model._meta.label] = sorted(editable)
    assert failures == {}
