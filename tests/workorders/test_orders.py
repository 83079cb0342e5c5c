"""Orders meet field work: a connection job after deployment, joining the installation job during it."""

import pytest
from django.contrib.contenttypes.models import ContentType

from cos import services as cos_services
from cos.choices import AddressStatus
from cos.models import Event, TransitionLog
from marketplace import services as marketplace_services
from marketplace.choices import OrderStatus
from tests.marketplace.factories import world
from tests.workorders.factories import installation_work_order
from workorders import handlers
from workorders.choices import WorkOrderKind, WorkOrderStatus
from workorders.models import WorkOrder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]


def _pre_ordering_world(address_status):
    w = world(address_status=address_status, takes_preorders=True)
    w.internet.eligibility.address_statuses = [
        AddressStatus.PLANNED,
        AddressStatus.IN_DEPLOYMENT,
        AddressStatus.CONNECTED,
    ]
    w.internet.eligibility.save(update_fields=["address_statuses"])
    return w


def _order(w, deliver):
    order, _ = deliver(marketplace_services.order_place, request=w.request())
    order.refresh_from_db()
    assert order.status == OrderStatus.ACCEPTED
    return order


def test_an_accepted_order_at_a_connected_address_gets_a_connection_job(templates, deliver):
    # given
    w = world()
    # when
    order = _order(w, deliver)
    # then
    (work_order,) = WorkOrder.objects.all()
    assert (work_order.kind, work_order.template, work_order.address) == (
        WorkOrderKind.CONNECTION,
        templates["connection"],
        w.address,
    )
    assert list(work_order.orders.all()) == [order]
    expected = list(templates["connection"].task_templates.order_by("position").values_list("position", "title"))
    assert list(work_order.tasks.order_by("position").values_list("position", "title")) == expected


def test_the_order_accepted_event_delivered_twice_makes_one_connection_job(deliver):
    # given
    w = world()
    order = _order(w, deliver)
    event = Event.objects.get(name="order.accepted", payload__order_id=order.pk)
    # when
    deliver(handlers.work_order_for_order, event)
    # then
    assert WorkOrder.objects.filter(orders=order).count() == 1
    assert WorkOrder.objects.count() == 1


def test_an_order_at_an_address_in_deployment_joins_its_installation_job(deliver):
    # given
    w = _pre_ordering_world(AddressStatus.IN_DEPLOYMENT)
    installation = installation_work_order(address=w.address)
    # when
    order = _order(w, deliver)
    # then
    assert list(WorkOrder.objects.all()) == [installation]
    assert list(installation.orders.all()) == [order]


def test_a_pre_order_joins_the_job_created_when_its_address_goes_into_deployment(deliver):
    # given: ordered while the address was only planned
    w = _pre_ordering_world(AddressStatus.PLANNED)
    order = _order(w, deliver)
    assert not WorkOrder.objects.exists()
    # when
    deliver(cos_services.address_start_deployment, address_id=w.address.pk)
    # then
    (work_order,) = WorkOrder.objects.all()
    assert work_order.kind == WorkOrderKind.INSTALLATION
    assert list(work_order.orders.all()) == [order]


def test_an_address_connected_outside_a_job_cancels_its_open_installation_job(deliver, crew):
    # given
    work_order = installation_work_order()
    # when: e.g. a legacy import marks it connected
    deliver(cos_services.address_mark_connected, address_id=work_order.address_id, actor=crew.ops, reason="import")
    # then
    work_order.refresh_from_db()
    assert work_order.status == WorkOrderStatus.CANCELLED
    log = TransitionLog.objects.get(
        content_type=ContentType.objects.get_for_model(WorkOrder), object_id=work_order.pk, transition="cancel"
    )
    assert (log.source, log.target) == (WorkOrderStatus.CREATED, WorkOrderStatus.CANCELLED)
    assert log.reason == "address connected outside this work order"


def test_connecting_one_address_leaves_the_neighbours_jobs_open(deliver):
    # given
    work_order = installation_work_order()
    neighbour = installation_work_order(area=work_order.address.area)
    # when
    deliver(cos_services.address_mark_connected, address_id=work_order.address_id)
    # then
    neighbour.refresh_from_db()
    assert neighbour.status == WorkOrderStatus.CREATED
