"""Closing tasks: in sequence, with their evidence; measurements that gate their own task; the provisioning trigger;
skipping (found again by the operator) and reopening (by the technician too)."""

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError

from cos.errors import ApplicationError
from cos.models import Event, TransitionLog
from marketplace import services as marketplace_services
from tests.marketplace.factories import world
from tests.workorders.factories import (
    assign,
    installation_work_order,
    photo_upload,
    prove,
    record,
    task_at,
    work_through,
)
from workorders import services
from workorders.choices import TaskStatus, WorkOrderStatus
from workorders.models import Task, WorkOrder
from workorders.selectors import tasks_skipped_with_reason

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]

ONT_STEP, LIGHT, TRIGGER, SPEED, PHOTOS = 3, 4, 5, 6, 7


@pytest.fixture
def job(crew):
    """An installation job: the contractor's two steps for the contractor's technician, the rest for the operator's."""
    work_order = installation_work_order()
    assign(work_order, user=crew.contractor_tech, organization=crew.contractor, positions=[1, 2])
    assign(work_order, user=crew.staff_tech, positions=[3, 4, 5, 6, 7, 8])
    return work_order


def _status(task) -> str:
    return Task.objects.get(pk=task.pk).status


def _reopen_logs(task):
    return TransitionLog.objects.filter(
        content_type=ContentType.objects.get_for_model(Task), object_id=task.pk, transition="reopen"
    )


def _provisioning_requests(work_order):
    return Event.objects.filter(name="workorder.provisioning_requested", payload__work_order_id=work_order.pk)


def test_a_task_closes_with_its_evidence_and_records_who_did_it(job, crew):
    # given
    drop = task_at(job, 1)
    prove(drop, crew.contractor_tech)
    # when
    services.task_close(task_id=drop.pk, actor=crew.contractor_tech)
    # then
    drop.refresh_from_db()
    assert (drop.status, drop.completed_by, drop.completed_by_organization) == (
        TaskStatus.DONE,
        crew.contractor_tech,
        crew.contractor,
    )
    assert drop.completed_at is not None
    job.refresh_from_db()
    assert job.status == WorkOrderStatus.IN_PROGRESS


def test_a_task_does_not_close_without_its_evidence(job, crew):
    # given: the ONT step needs a serial and a photo; only the photo is there
    work_through(job, crew.contractor_tech, until=2)
    ont_step = task_at(job, ONT_STEP)
    record(ont_step, crew.staff_tech, "photo", files={"photo": photo_upload()})
    # when
    with pytest.raises(ApplicationError) as refused:
        services.task_close(task_id=ont_step.pk, actor=crew.staff_tech)
    # then
    assert refused.value.code == "evidence_missing"
    assert "ONT serial" in refused.value.message
    assert _status(ont_step) == TaskStatus.OPEN


def test_a_task_does_not_close_before_the_earlier_ones(job, crew):
    # given: the light level is measured, but the drop is not done yet
    light = task_at(job, LIGHT)
    prove(light, crew.staff_tech)
    # when
    with pytest.raises(ApplicationError) as refused:
        services.task_close(task_id=light.pk, actor=crew.staff_tech)
    # then
    assert refused.value.code == "out_of_sequence"
    assert "Drop from the distribution point" in refused.value.message
    assert _status(light) == TaskStatus.OPEN


@pytest.mark.parametrize(("reading", "shown"), [("-30", "-30.00"), ("5", "5.00")])
def test_a_failing_light_level_keeps_its_own_task_open(job, crew, reading, shown):
    # given: a weak (or far too strong) reading at the ONT
    work_through(job, crew.contractor_tech, until=2)
    work_through(job, crew.staff_tech, until=ONT_STEP)
    light = task_at(job, LIGHT)
    record(light, crew.staff_tech, "light_level", light_level_dbm=reading)
    # when
    with pytest.raises(ApplicationError) as refused:
        services.task_close(task_id=light.pk, actor=crew.staff_tech)
    # then: the task says why and what to do, instead of closing and trapping the trigger
    assert refused.value.code == "measurement_failed"
    assert refused.value.message == (
        f"The last light level, {shown} dBm, fails (pass -27 to -8 dBm): record a new reading, or skip the task "
        "with a reason."
    )
    assert _status(light) == TaskStatus.OPEN
    assert not _provisioning_requests(job).exists()


def test_the_light_levels_task_closes_on_its_last_reading(job, crew):
    # given: a passing reading, then a failing one
    work_through(job, crew.contractor_tech, until=2)
    work_through(job, crew.staff_tech, until=ONT_STEP)
    light = task_at(job, LIGHT)
    record(light, crew.staff_tech, "light_level", light_level_dbm="-19.5")
    record(light, crew.staff_tech, "light_level", light_level_dbm="-29")
    # when
    with pytest.raises(ApplicationError) as refused:
        services.task_close(task_id=light.pk, actor=crew.staff_tech)
    # then
    assert refused.value.code == "measurement_failed"
    assert "-29.00 dBm" in refused.value.message
    assert _status(light) == TaskStatus.OPEN


def test_turning_the_service_on_requests_provisioning_once(job, crew):
    # given
    work_through(job, crew.contractor_tech, until=2)
    work_through(job, crew.staff_tech, until=LIGHT)
    trigger = task_at(job, TRIGGER)
    # when: closed, then the same form submitted again
    services.task_close(task_id=trigger.pk, actor=crew.staff_tech)
    services.task_close(task_id=trigger.pk, actor=crew.staff_tech)
    # then
    (event,) = _provisioning_requests(job)
    assert event.payload == {"work_order_id": job.pk, "address_id": job.address_id, "task_id": trigger.pk}
    assert _status(trigger) == TaskStatus.DONE


def test_a_better_light_level_after_a_fix_lets_the_technician_alone_turn_the_service_on(job, crew):
    # given: the weak reading was refused at its own task; the splice is redone and measured again
    work_through(job, crew.contractor_tech, until=2)
    work_through(job, crew.staff_tech, until=ONT_STEP)
    light, trigger = task_at(job, LIGHT), task_at(job, TRIGGER)
    record(light, crew.staff_tech, "light_level", light_level_dbm="-30")
    with pytest.raises(ApplicationError):
        services.task_close(task_id=light.pk, actor=crew.staff_tech)
    record(light, crew.staff_tech, "light_level", light_level_dbm="-21")
    services.task_close(task_id=light.pk, actor=crew.staff_tech)
    # when
    services.task_close(task_id=trigger.pk, actor=crew.staff_tech)
    # then
    assert _status(trigger) == TaskStatus.DONE
    assert _provisioning_requests(job).count() == 1


def test_a_light_level_that_cannot_pass_is_skipped_with_a_reason_for_the_operator(job, crew):
    # given: the reading fails and the technician cannot fix it today
    work_through(job, crew.contractor_tech, until=2)
    work_through(job, crew.staff_tech, until=ONT_STEP)
    light, trigger = task_at(job, LIGHT), task_at(job, TRIGGER)
    record(light, crew.staff_tech, "light_level", light_level_dbm="-28")
    # when
    services.task_skip(task_id=light.pk, actor=crew.staff_tech, reason="Power meter broken, ONT shows a green PON")
    services.task_close(task_id=trigger.pk, actor=crew.staff_tech)
    # then: the job goes on, and the operator finds the skip with its reason
    assert _status(trigger) == TaskStatus.DONE
    assert _provisioning_requests(job).count() == 1
    (skipped,) = tasks_skipped_with_reason()
    assert (skipped.pk, skipped.skip_reason, skipped.completed_by) == (
        light.pk,
        "Power meter broken, ONT shows a green PON",
        crew.staff_tech,
    )


def test_a_speed_test_that_fails_keeps_its_own_task_open(crew, deliver):
    # given: a connection job for a 1000/1000 order
    w = world()
    order, _ = deliver(marketplace_services.order_place, request=w.request())
    job = WorkOrder.objects.get(orders=order)
    assign(job, user=crew.staff_tech)
    work_through(job, crew.staff_tech, until=3)
    speed = task_at(job, 4)
    record(speed, crew.staff_tech, "speed_test", download_mbps="500", upload_mbps="1 000,5")
    # when
    with pytest.raises(ApplicationError) as refused:
        services.task_close(task_id=speed.pk, actor=crew.staff_tech)
    # then
    assert refused.value.code == "measurement_failed"
    assert refused.value.message == (
        "The last speed test, 500.00/1000.50 Mbit/s, fails (pass at 80% of the ordered 1000/1000 Mbit/s): run a new "
        "test, or skip the task with a reason."
    )
    assert _status(speed) == TaskStatus.OPEN
    # when: the router is replaced and the test run again
    record(speed, crew.staff_tech, "speed_test", download_mbps="940,5", upload_mbps="930")
    services.task_close(task_id=speed.pk, actor=crew.staff_tech)
    # then
    assert _status(speed) == TaskStatus.DONE
    assert speed.evidence.last().download_mbps == Decimal("940.50")


def test_skipping_needs_a_reason(job, crew):
    # given
    drop = task_at(job, 1)
    # when
    with pytest.raises(ValidationError):
        services.task_skip(task_id=drop.pk, actor=crew.contractor_tech, reason="   ")
    # then
    drop.refresh_from_db()
    assert (drop.status, drop.skip_reason, drop.completed_by) == (TaskStatus.OPEN, "", None)


def test_a_task_that_does_not_apply_is_skipped_with_its_reason(job, crew):
    # given
    drop = task_at(job, 1)
    # when
    services.task_skip(task_id=drop.pk, actor=crew.contractor_tech, reason=" Drop already in place from 2019 ")
    # then
    drop.refresh_from_db()
    assert (drop.status, drop.skip_reason, drop.completed_by) == (
        TaskStatus.SKIPPED,
        "Drop already in place from 2019",
        crew.contractor_tech,
    )


def test_the_provisioning_trigger_cannot_be_skipped(job, crew):
    # given
    work_through(job, crew.contractor_tech, until=2)
    work_through(job, crew.staff_tech, until=LIGHT)
    trigger = task_at(job, TRIGGER)
    # when
    with pytest.raises(ApplicationError) as refused:
        services.task_skip(task_id=trigger.pk, actor=crew.staff_tech, reason="customer not home")
    # then
    assert refused.value.code == "cannot_skip"
    assert _status(trigger) == TaskStatus.OPEN


def test_reopening_is_audited_with_the_reason(job, crew):
    # given
    work_through(job, crew.contractor_tech, until=2)
    entry = task_at(job, 2)
    # when
    services.task_reopen(task_id=entry.pk, actor=crew.manager, reason="Wall box not sealed")
    # then
    entry.refresh_from_db()
    assert (entry.status, entry.completed_by, entry.completed_at) == (TaskStatus.OPEN, None, None)
    (log,) = _reopen_logs(entry)
    assert (log.source, log.target, log.actor, log.reason) == (
        TaskStatus.DONE,
        TaskStatus.OPEN,
        crew.manager,
        "Wall box not sealed",
    )


def test_operator_staff_reopen_any_task(job, crew):
    # given
    work_through(job, crew.contractor_tech, until=2)
    work_through(job, crew.staff_tech, until=ONT_STEP)
    ont_step = task_at(job, ONT_STEP)
    # when
    services.task_reopen(task_id=ont_step.pk, actor=crew.ops, reason="wrong ONT scanned")
    # then
    assert _status(ont_step) == TaskStatus.OPEN
    assert _reopen_logs(ont_step).get().actor == crew.ops


def test_the_technician_reopens_his_own_task_with_a_reason(job, crew):
    # given: the technician closed the ONT step, then sees the patch cord is loose
    work_through(job, crew.contractor_tech, until=2)
    work_through(job, crew.staff_tech, until=ONT_STEP)
    ont_step = task_at(job, ONT_STEP)
    # when
    services.task_reopen(task_id=ont_step.pk, actor=crew.staff_tech, reason="Patch cord loose, redo the photo")
    # then
    assert _status(ont_step) == TaskStatus.OPEN
    (log,) = _reopen_logs(ont_step)
    assert (log.actor, log.reason) == (crew.staff_tech, "Patch cord loose, redo the photo")


@pytest.mark.parametrize(("who", "position"), [("staff_tech", 2), ("rival_tech", ONT_STEP), ("contractor_tech", 3)])
def test_technicians_cannot_reopen_a_task_that_is_not_theirs(job, crew, who, position):
    # given
    work_through(job, crew.contractor_tech, until=2)
    work_through(job, crew.staff_tech, until=ONT_STEP)
    task = task_at(job, position)
    # when
    with pytest.raises(PermissionDenied):
        services.task_reopen(task_id=task.pk, actor=getattr(crew, who), reason="try again")
    # then
    assert _status(task) == TaskStatus.DONE
    assert not _reopen_logs(task).exists()


def test_the_contractors_field_manager_cannot_reopen_the_operators_task(job, crew):
    # given
    work_through(job, crew.contractor_tech, until=2)
    work_through(job, crew.staff_tech, until=ONT_STEP)
    ont_step = task_at(job, ONT_STEP)
    # when
    with pytest.raises(PermissionDenied):
        services.task_reopen(task_id=ont_step.pk, actor=crew.manager, reason="try again")
    # then
    assert _status(ont_step) == TaskStatus.DONE
    assert not _reopen_logs(ont_step).exists()


def test_reopening_needs_a_reason(job, crew):
    # given
    work_through(job, crew.contractor_tech, until=1)
    drop = task_at(job, 1)
    # when
    with pytest.raises(ValidationError):
        services.task_reopen(task_id=drop.pk, actor=crew.manager, reason="")
    # then
    assert _status(drop) == TaskStatus.DONE
    assert not _reopen_logs(drop).exists()


def test_a_cancelled_job_takes_no_more_closing(job, crew):
    # given: the work order was cancelled (the address was connected otherwise)
    drop = task_at(job, 1)
    prove(drop, crew.contractor_tech)
    services.work_order_cancel_if_connected_elsewhere(address_id=job.address_id)
    # when
    with pytest.raises(ApplicationError) as refused:
        services.task_close(task_id=drop.pk, actor=crew.contractor_tech)
    # then
    assert refused.value.code == "work_order_closed"
    assert _status(drop) == TaskStatus.OPEN
