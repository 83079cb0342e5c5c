"""Completing a job: the speed test gate, sign-off of contractor work, the installation record, providers told."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cos.choices import AddressStatus
from cos.errors import ApplicationError
from cos.models import Event, ProviderNotification
from marketplace import services as marketplace_services
from marketplace.choices import ProductCategory
from tests.cos.factories import CustomerFactory, ONTFactory
from tests.marketplace.factories import ParticipationFactory, PriceFactory, ProductFactory, ProviderFactory, world
from tests.workorders.factories import assign, installation_work_order, prove, record, task_at, work_through
from workorders import handlers, services
from workorders.choices import TaskStatus, WorkOrderStatus
from workorders.models import InstallationRecord, WorkOrder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]


def _pre_orders_from_two_providers(deliver):
    """An address in deployment with accepted pre-orders from two providers (internet from one, telephony)."""
    w = world(address_status=AddressStatus.IN_DEPLOYMENT, takes_preorders=True)
    second = ProviderFactory(name="Bredband2")
    ParticipationFactory(marketplace=w.marketplace, provider=second, auto_accept_orders=True)
    telephony = ProductFactory(
        provider=second,
        name="Telefoni",
        category=ProductCategory.TELEPHONY,
        download_mbps=None,
        upload_mbps=None,
        service_profile="VOIP",
    )
    PriceFactory(product=telephony, marketplace=w.marketplace)
    for product in (w.internet, telephony):
        product.eligibility.address_statuses = [AddressStatus.IN_DEPLOYMENT, AddressStatus.CONNECTED]
        product.eligibility.save(update_fields=["address_statuses"])
    work_order = installation_work_order(address=w.address)
    orders = [
        deliver(marketplace_services.order_place, request=w.request())[0],
        deliver(
            marketplace_services.order_place,
            request=w.request(telephony, provider_id=second.pk, customer=CustomerFactory()),
        )[0],
    ]
    assert set(work_order.orders.all()) == set(orders)
    return work_order, {w.provider, second}


def _infrastructure_ready(work_order):
    return Event.objects.filter(name="infrastructure.ready", payload__work_order_id=work_order.pk)


@pytest.fixture
def staff_job(crew):
    """An installation job done by the operator's own technician alone."""
    work_order = installation_work_order()
    assign(work_order, user=crew.staff_tech)
    return work_order


@pytest.fixture
def shared_job(crew):
    """An installation job whose first two steps are the contractor's."""
    work_order = installation_work_order()
    assign(work_order, user=crew.contractor_tech, organization=crew.contractor, positions=[1, 2])
    assign(work_order, user=crew.staff_tech, positions=[3, 4, 5, 6, 7, 8])
    return work_order


def _finish_shared(job, crew, deliver):
    deliver(work_through, job, crew.contractor_tech, until=2)
    deliver(work_through, job, crew.staff_tech)
    job.refresh_from_db()


def test_a_job_done_by_operator_staff_alone_is_accepted_at_once(staff_job, crew, deliver):
    # given
    ont = ONTFactory(serial="ADTN00C0FFEE")
    # when
    deliver(work_through, staff_job, crew.staff_tech, ont_serial=ont.serial, light_level="-19.5", speed=("940", "930"))
    # then
    staff_job.refresh_from_db()
    assert staff_job.status == WorkOrderStatus.ACCEPTED
    assert staff_job.completed_at is not None
    assert staff_job.accepted_at is not None
    staff_job.address.refresh_from_db()
    assert staff_job.address.status == AddressStatus.CONNECTED
    installed = InstallationRecord.objects.get(work_order=staff_job)
    assert (
        installed.address,
        installed.ont_serial,
        installed.light_level_dbm,
        installed.download_mbps,
        installed.upload_mbps,
    ) == (
        staff_job.address,
        "ADTN00C0FFEE",
        Decimal("-19.50"),
        Decimal("940.00"),
        Decimal("930.00"),
    )
    assert installed.details["technicians"] == ["tina-tech"]
    assert [t["position"] for t in installed.details["tasks"]] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert installed.completed_at == staff_job.completed_at
    assert _infrastructure_ready(staff_job).count() == 1


def test_skipped_tasks_count_as_finished(staff_job, crew, deliver):
    # given: everything but the completion photos
    deliver(work_through, staff_job, crew.staff_tech, until=6)
    photos, sign_off = task_at(staff_job, 7), task_at(staff_job, 8)
    services.task_skip(task_id=photos.pk, actor=crew.staff_tech, reason="camera broken; photos tomorrow")
    prove(sign_off, crew.staff_tech)
    # when
    deliver(services.task_close, task_id=sign_off.pk, actor=crew.staff_tech)
    # then
    staff_job.refresh_from_db()
    assert staff_job.status == WorkOrderStatus.ACCEPTED
    details = InstallationRecord.objects.get(work_order=staff_job).details
    assert details["tasks"][6]["status"] == TaskStatus.SKIPPED
    assert details["tasks"][6]["skip_reason"] == "camera broken; photos tomorrow"


def test_the_job_is_not_finished_while_a_task_is_open(staff_job, crew, deliver):
    # when
    deliver(work_through, staff_job, crew.staff_tech, until=7)
    # then
    staff_job.refresh_from_db()
    assert staff_job.status == WorkOrderStatus.IN_PROGRESS
    assert not InstallationRecord.objects.exists()
    assert not _infrastructure_ready(staff_job).exists()


def test_each_provider_with_an_order_at_the_address_is_told_once(crew, deliver):
    # given
    work_order, providers = _pre_orders_from_two_providers(deliver)
    assign(work_order, user=crew.staff_tech)
    # when
    deliver(work_through, work_order, crew.staff_tech)
    # then
    (event,) = _infrastructure_ready(work_order)
    assert sorted(event.payload["order_ids"]) == sorted(work_order.orders.values_list("pk", flat=True))
    notifications = ProviderNotification.objects.filter(event=event)
    assert {n.provider for n in notifications} == providers
    assert notifications.count() == 2
    assert {n.topic for n in notifications} == {"infrastructure.ready"}
    # when: the event is delivered again
    deliver(handlers.providers_told_infrastructure_ready, event)
    # then
    assert ProviderNotification.objects.filter(topic="infrastructure.ready").count() == 2


def test_a_failing_speed_test_holds_the_job_until_a_passing_one(crew, deliver):
    # given: a connection job for a 1000/1000 order; the first speed test gives 500/900
    w = world()
    order, _ = deliver(marketplace_services.order_place, request=w.request())
    job = WorkOrder.objects.get(orders=order)
    assign(job, user=crew.staff_tech)
    deliver(work_through, job, crew.staff_tech, until=3)
    speed = task_at(job, 4)
    record(speed, crew.staff_tech, "speed_test", download_mbps="500", upload_mbps="900")
    # when
    with pytest.raises(ApplicationError) as refused:
        deliver(services.task_close, task_id=speed.pk, actor=crew.staff_tech)
    # then: the speed test's own task stays open (the job cannot complete behind it)
    assert refused.value.code == "measurement_failed"
    job.refresh_from_db()
    assert job.status == WorkOrderStatus.IN_PROGRESS
    assert task_at(job, 4).status == TaskStatus.OPEN
    assert not InstallationRecord.objects.exists()
    # when: the router is replaced and the speed test run again
    record(speed, crew.staff_tech, "speed_test", download_mbps="940", upload_mbps="930")
    services.task_close(task_id=speed.pk, actor=crew.staff_tech)
    sign_off = task_at(job, 5)
    prove(sign_off, crew.staff_tech)
    deliver(services.task_close, task_id=sign_off.pk, actor=crew.staff_tech)
    # then
    job.refresh_from_db()
    assert job.status == WorkOrderStatus.ACCEPTED
    assert InstallationRecord.objects.get(work_order=job).download_mbps == Decimal("940.00")
    assert _infrastructure_ready(job).count() == 1


def test_contractor_work_waits_for_the_operators_sign_off(shared_job, crew, deliver):
    # when
    _finish_shared(shared_job, crew, deliver)
    # then
    assert shared_job.status == WorkOrderStatus.COMPLETED
    assert shared_job.accepted_at is None
    assert not InstallationRecord.objects.exists()
    shared_job.address.refresh_from_db()
    assert shared_job.address.status == AddressStatus.IN_DEPLOYMENT
    assert not _infrastructure_ready(shared_job).exists()


def test_operator_staff_sign_off_contractor_work(shared_job, crew, deliver):
    # given
    _finish_shared(shared_job, crew, deliver)
    # when
    deliver(services.work_order_accept, work_order_id=shared_job.pk, actor=crew.ops)
    # then
    shared_job.refresh_from_db()
    assert shared_job.status == WorkOrderStatus.ACCEPTED
    shared_job.address.refresh_from_db()
    assert shared_job.address.status == AddressStatus.CONNECTED
    details = InstallationRecord.objects.get(work_order=shared_job).details
    assert details["technicians"] == ["carl-contractor", "tina-tech"]
    assert details["organizations"] == ["Gravteam", "Stadsnät"]
    assert _infrastructure_ready(shared_job).count() == 1


@pytest.mark.parametrize("who", ["manager", "contractor_tech", "staff_tech"])
def test_only_operator_staff_sign_off(shared_job, crew, deliver, who):
    # given
    _finish_shared(shared_job, crew, deliver)
    # when
    with pytest.raises(PermissionDenied):
        deliver(services.work_order_accept, work_order_id=shared_job.pk, actor=getattr(crew, who))
    # then
    shared_job.refresh_from_db()
    assert shared_job.status == WorkOrderStatus.COMPLETED
    assert not InstallationRecord.objects.exists()
    assert not _infrastructure_ready(shared_job).exists()


def test_a_rejected_job_goes_back_to_the_field_with_the_reason(shared_job, crew, deliver):
    # given
    _finish_shared(shared_job, crew, deliver)
    # when
    entry = task_at(shared_job, 2)
    services.work_order_reject(
        work_order_id=shared_job.pk, actor=crew.ops, reason=" Entry not sealed ", task_ids=[entry.pk]
    )
    # then
    shared_job.refresh_from_db()
    assert (shared_job.status, shared_job.rejection_reason) == (WorkOrderStatus.IN_PROGRESS, "Entry not sealed")
    assert not InstallationRecord.objects.exists()


def test_a_reworked_job_comes_back_for_sign_off(shared_job, crew, deliver):
    # given
    _finish_shared(shared_job, crew, deliver)
    entry = task_at(shared_job, 2)
    services.work_order_reject(
        work_order_id=shared_job.pk, actor=crew.ops, reason="Entry not sealed", task_ids=[entry.pk]
    )
    prove(entry, crew.contractor_tech)
    # when
    deliver(services.task_close, task_id=entry.pk, actor=crew.contractor_tech)
    # then
    shared_job.refresh_from_db()
    assert shared_job.status == WorkOrderStatus.COMPLETED
    deliver(services.work_order_accept, work_order_id=shared_job.pk, actor=crew.ops)
    shared_job.refresh_from_db()
    assert shared_job.status == WorkOrderStatus.ACCEPTED


def test_a_rejection_needs_a_reason_and_operator_staff(shared_job, crew, deliver):
    # given
    _finish_shared(shared_job, crew, deliver)
    # when
    entry = task_at(shared_job, 2)
    with pytest.raises(ValidationError):
        services.work_order_reject(work_order_id=shared_job.pk, actor=crew.ops, reason=" ", task_ids=[entry.pk])
    with pytest.raises(PermissionDenied):
        services.work_order_reject(
            work_order_id=shared_job.pk, actor=crew.manager, reason="looks wrong", task_ids=[entry.pk]
        )
    # then
    shared_job.refresh_from_db()
    assert (shared_job.status, shared_job.rejection_reason) == (WorkOrderStatus.COMPLETED, "")


def test_tasks_of_a_completed_job_are_not_reopened(shared_job, crew, deliver):
    # given
    _finish_shared(shared_job, crew, deliver)
    entry = task_at(shared_job, 2)
    # when
    with pytest.raises(ApplicationError) as refused:
        services.task_reopen(task_id=entry.pk, actor=crew.ops, reason="one more look")
    # then
    assert refused.value.code == "work_order_closed"
    assert task_at(shared_job, 2).status == TaskStatus.DONE


def test_the_installation_record_never_changes(staff_job, crew, deliver):
    # given
    deliver(work_through, staff_job, crew.staff_tech)
    written = InstallationRecord.objects.get(work_order=staff_job)
    # when
    written.ont_serial = "ADTN0BADBEEF"
    with pytest.raises(ValidationError):
        written.save()
    with pytest.raises(ValidationError):
        InstallationRecord.objects.get(pk=written.pk).delete()
    # then
    kept = InstallationRecord.objects.get(pk=written.pk)
    assert kept.ont_serial != "ADTN0BADBEEF"
    assert kept.ont_serial == staff_job.address.onts.get().serial
