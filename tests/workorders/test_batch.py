"""Work orders in bulk: an area (or one address) goes into deployment, each address gets its installation job."""

import pytest
from django.db.models import Count

from cos import services as cos_services
from cos.choices import AddressStatus, AreaStatus, BuildingType
from cos.models import Event, HandlerRun
from tests.cos.factories import AddressFactory, AreaFactory
from workorders import handlers
from workorders.batch import work_orders_create_chunk
from workorders.choices import TaskStatus, WorkOrderKind, WorkOrderStatus
from workorders.models import Task, WorkOrder, WorkOrderTemplate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]


def _titles(template) -> list[str]:
    return list(template.task_templates.order_by("position").values_list("title", flat=True))


def _tasks(work_order) -> list[tuple[int, str, str]]:
    return list(work_order.tasks.order_by("position").values_list("position", "title", "status"))


def test_each_address_of_an_area_in_deployment_gets_the_installation_job_for_its_building(templates, deliver):
    # given
    area = AreaFactory(status=AreaStatus.SURVEYED)
    house = AddressFactory(area=area, building_type=BuildingType.SINGLE_FAMILY)
    flat = AddressFactory(area=area, building_type=BuildingType.MULTI_DWELLING, status=AddressStatus.SURVEYED)
    shop = AddressFactory(area=area, building_type=BuildingType.BUSINESS)
    # when
    deliver(cos_services.area_start_deployment, area_id=area.pk)
    # then
    expected = {house: templates["sfu-drop"], flat: templates["mdu-unit"], shop: templates["business"]}
    for address, template in expected.items():
        (work_order,) = WorkOrder.objects.filter(address=address)
        assert (work_order.kind, work_order.status, work_order.template) == (
            WorkOrderKind.INSTALLATION,
            WorkOrderStatus.CREATED,
            template,
        )
        titles = _titles(template)
        assert _tasks(work_order) == [(i, title, TaskStatus.OPEN) for i, title in enumerate(titles, start=1)]


def test_addresses_elsewhere_or_already_connected_get_no_installation_job(deliver):
    # given
    area = AreaFactory(status=AreaStatus.SURVEYED)
    planned = AddressFactory(area=area)
    connected = AddressFactory(area=area, status=AddressStatus.CONNECTED)
    elsewhere = AddressFactory(area=AreaFactory(status=AreaStatus.SURVEYED))
    # when
    deliver(cos_services.area_start_deployment, area_id=area.pk)
    # then
    assert set(WorkOrder.objects.values_list("address", flat=True)) == {planned.pk}
    assert not WorkOrder.objects.filter(address__in=[connected, elsewhere]).exists()


def test_the_task_copies_carry_what_the_field_needs(templates, deliver):
    # given
    area = AreaFactory(status=AreaStatus.SURVEYED)
    address = AddressFactory(area=area)
    # when
    deliver(cos_services.area_start_deployment, area_id=area.pk)
    # then
    copies = {t.position: t for t in Task.objects.filter(work_order__address=address)}
    for source in templates["sfu-drop"].task_templates.all():
        copy = copies[source.position]
        assert (
            copy.category,
            copy.evidence_required,
            copy.required_skill,
            copy.performed_by,
            copy.triggers_provisioning,
            copy.instructions,
        ) == (
            source.category,
            source.evidence_required,
            source.required_skill,
            source.performed_by,
            source.triggers_provisioning,
            source.instructions,
        )


def test_the_area_event_delivered_twice_creates_nothing_twice(deliver):
    # given
    area = AreaFactory(status=AreaStatus.SURVEYED)
    AddressFactory.create_batch(3, area=area)
    deliver(cos_services.area_start_deployment, area_id=area.pk)
    event = Event.objects.get(name="area.in_deployment")
    before = (WorkOrder.objects.count(), Task.objects.count())
    # when: the event is delivered to its handler again (at-least-once delivery)
    deliver(handlers.work_orders_for_area, event)
    # then
    assert (WorkOrder.objects.count(), Task.objects.count()) == before == (3, 24)


def test_a_chunk_delivered_twice_creates_nothing_twice():
    # given
    area = AreaFactory(status=AreaStatus.IN_DEPLOYMENT)
    addresses = AddressFactory.create_batch(4, area=area, status=AddressStatus.IN_DEPLOYMENT)
    first, last = addresses[0].pk, addresses[-1].pk
    assert work_orders_create_chunk(area_id=area.pk, first_id=first, last_id=last) == 4
    # when
    created_again = work_orders_create_chunk(area_id=area.pk, first_id=first, last_id=last)
    # then
    assert created_again == 0
    assert WorkOrder.objects.count() == 4
    tasks_per_job = WorkOrder.objects.annotate(n=Count("tasks")).values_list("n", flat=True)
    assert list(tasks_per_job) == [8, 8, 8, 8]


def test_the_chunk_event_delivered_twice_creates_nothing_twice(deliver, settings):
    # given
    settings.WORKORDERS_CHUNK_SIZE = 2
    area = AreaFactory(status=AreaStatus.SURVEYED)
    AddressFactory.create_batch(3, area=area)
    deliver(cos_services.area_start_deployment, area_id=area.pk)
    chunk = Event.objects.filter(name="workorders.chunk_requested").order_by("pk").first()
    # when
    deliver(handlers.work_orders_for_chunk, chunk)
    # then
    assert WorkOrder.objects.count() == 3
    assert Task.objects.count() == 24


def test_one_address_going_into_deployment_gets_its_job(templates, deliver):
    # given: an infill address in an area that is already being built
    area = AreaFactory(status=AreaStatus.IN_DEPLOYMENT)
    neighbour = AddressFactory(area=area)
    infill = AddressFactory(area=area, building_type=BuildingType.MULTI_DWELLING, status=AddressStatus.SURVEYED)
    # when
    deliver(cos_services.address_start_deployment, address_id=infill.pk)
    # then
    (work_order,) = WorkOrder.objects.all()
    assert (work_order.address, work_order.template) == (infill, templates["mdu-unit"])
    assert [title for _, title, _ in _tasks(work_order)] == _titles(templates["mdu-unit"])
    assert not WorkOrder.objects.filter(address=neighbour).exists()


def test_a_large_area_is_split_into_chunks_and_every_address_gets_its_job(deliver, settings):
    # given
    settings.WORKORDERS_CHUNK_SIZE = 2
    area = AreaFactory(status=AreaStatus.SURVEYED)
    addresses = AddressFactory.create_batch(5, area=area)
    # when
    deliver(cos_services.area_start_deployment, area_id=area.pk)
    # then
    chunks = Event.objects.filter(name="workorders.chunk_requested")
    assert chunks.count() == 3
    covered = sorted((c.payload["first_id"], c.payload["last_id"]) for c in chunks)
    ids = sorted(a.pk for a in addresses)
    assert covered == [(ids[0], ids[1]), (ids[2], ids[3]), (ids[4], ids[4])]
    assert set(WorkOrder.objects.values_list("address", flat=True)) == set(ids)
    assert HandlerRun.objects.filter(event__in=chunks).count() == 3


def test_a_chunk_costs_the_same_number_of_queries_whatever_its_size(django_assert_max_num_queries):
    # given
    small_area, large_area = AreaFactory(status=AreaStatus.IN_DEPLOYMENT), AreaFactory(status=AreaStatus.IN_DEPLOYMENT)
    small = AddressFactory.create_batch(3, area=small_area, status=AddressStatus.IN_DEPLOYMENT)
    large = AddressFactory.create_batch(30, area=large_area, status=AddressStatus.IN_DEPLOYMENT)
    with django_assert_max_num_queries(8) as baseline:
        work_orders_create_chunk(area_id=small_area.pk, first_id=small[0].pk, last_id=small[-1].pk)
    # when / then
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        created = work_orders_create_chunk(area_id=large_area.pk, first_id=large[0].pk, last_id=large[-1].pk)
    assert created == 30
    assert Task.objects.filter(work_order__address__area=large_area).count() == 30 * 8


def test_without_an_installation_template_a_chunk_fails_loudly_and_creates_nothing():
    # given
    WorkOrderTemplate.objects.filter(kind=WorkOrderKind.INSTALLATION).update(is_active=False)
    address = AddressFactory(status=AddressStatus.IN_DEPLOYMENT)
    # when
    with pytest.raises(RuntimeError, match="No active installation work-order template"):
        work_orders_create_chunk(area_id=None, first_id=address.pk, last_id=address.pk)
    # then
    assert not WorkOrder.objects.exists()
