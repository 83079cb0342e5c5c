"""Admin discipline in field work: evidence, tasks, work orders and installation records are never deleted; a
work order's orders, day and tasks' assignment change only through the actions that call the services."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from cos.models import TransitionLog
from tests.cos.factories import ONTFactory
from tests.workorders.factories import assign, installation_work_order, work_through
from workorders.choices import EvidenceKind, WorkOrderStatus
from workorders.models import Evidence, InstallationRecord, Task, WorkOrder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]


@pytest.fixture
def root(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456"))
    return client


def _no_inline_rows(prefix: str) -> dict:
    """The management forms of a change page's inlines (its own rows and the transition history), posted empty."""
    data = {}
    for inline in (prefix, "cos-transitionlog-content_type-object_id"):
        data |= {f"{inline}-TOTAL_FORMS": "0", f"{inline}-INITIAL_FORMS": "0"}
    return data


@pytest.fixture
def accepted_job(crew, deliver):
    """An installation done by the operator's own technician, accepted, with its photos and measurements."""
    work_order = installation_work_order()
    assign(work_order, user=crew.staff_tech)
    deliver(work_through, work_order, crew.staff_tech, ont_serial=ONTFactory(serial="ADTN00C0FFEE").serial)
    work_order.refresh_from_db()
    assert work_order.status == WorkOrderStatus.ACCEPTED
    return work_order


def test_evidence_photos_of_an_accepted_job_are_never_deleted_not_even_by_a_superuser(root, accepted_job):
    # given: a photo the technician took on the accepted job
    photo = Evidence.objects.filter(task__work_order=accepted_job, kind=EvidenceKind.PHOTO).first()
    assert photo is not None
    assert photo.file
    url = reverse("admin:workorders_evidence_delete", args=[photo.pk])
    changelist = reverse("admin:workorders_evidence_changelist")
    # when: its delete page is asked for and posted, and the bulk delete is tried on the list
    page = root.get(url)
    posted = root.post(url, {"post": "yes"})
    bulk = root.post(changelist, {"action": "delete_selected", "_selected_action": [photo.pk], "post": "yes"})
    # then: refused each time; the photo and its file are still there
    assert (page.status_code, posted.status_code) == (403, 403)
    assert bulk.status_code in (200, 302)
    assert "delete_selected" not in root.get(changelist).content.decode()
    photo.refresh_from_db()
    assert photo.file.storage.exists(photo.file.name)


def test_an_accepted_job_its_tasks_and_its_installation_record_are_never_deleted(root, accepted_job):
    # given
    task = accepted_job.tasks.first()
    record = InstallationRecord.objects.get(work_order=accepted_job)
    # when / then: every delete page is refused, even to a superuser
    for url in (
        reverse("admin:workorders_workorder_delete", args=[accepted_job.pk]),
        reverse("admin:workorders_task_delete", args=[task.pk]),
        reverse("admin:workorders_installationrecord_delete", args=[record.pk]),
    ):
        assert root.post(url, {"post": "yes"}).status_code == 403
    assert WorkOrder.objects.filter(pk=accepted_job.pk).exists()
    assert Task.objects.filter(pk=task.pk).exists()
    assert InstallationRecord.objects.filter(pk=record.pk).exists()


def test_a_work_orders_orders_and_day_do_not_change_in_its_change_form(root):
    # given: a created work order
    work_order = installation_work_order()
    tomorrow = timezone.localdate() + timedelta(days=1)
    # when: its change form is posted with a day and a due day
    root.post(
        reverse("admin:workorders_workorder_change", args=[work_order.pk]),
        {
            "scheduled_for": tomorrow.isoformat(),
            "due_date": tomorrow.isoformat(),
            "notes": "gate code 1234",
            "orders": ["1"],
            **_no_inline_rows("tasks"),
        },
    )
    # then: the due day and notes are saved; the day is not (scheduling is a transition) and no order was linked
    work_order.refresh_from_db()
    assert (work_order.due_date, work_order.notes) == (tomorrow, "gate code 1234")
    assert work_order.scheduled_for is None
    assert work_order.status == WorkOrderStatus.CREATED
    assert not work_order.orders.exists()


def test_scheduling_is_an_action_that_calls_the_service(root):
    # given
    work_order = installation_work_order()
    tomorrow = timezone.localdate() + timedelta(days=1)
    # when
    root.post(
        reverse("admin:workorders_workorder_changelist"),
        {
            "action": "action_schedule__created_work_orders",
            "_selected_action": [work_order.pk],
            "apply": "1",
            "on": tomorrow.isoformat(),
        },
    )
    # then: scheduled by the transition, which is logged
    work_order.refresh_from_db()
    assert (work_order.status, work_order.scheduled_for) == (WorkOrderStatus.SCHEDULED, tomorrow)
    logged = TransitionLog.objects.filter(
        content_type=ContentType.objects.get_for_model(WorkOrder), object_id=work_order.pk, transition="schedule"
    )
    assert logged.exists()


def test_a_task_is_assigned_through_the_action_not_its_change_form(root, crew):
    # given: an open task of a created work order
    work_order = installation_work_order()
    task = work_order.tasks.order_by("position").first()
    url = reverse("admin:workorders_task_change", args=[task.pk])
    # when: its change form names a technician and another work order
    other = installation_work_order()
    root.post(
        url,
        {
            "title": "Dig the drop",
            "work_order": other.pk,
            "assigned_user": crew.staff_tech.pk,
            **_no_inline_rows("evidence"),
        },
    )
    task.refresh_from_db()
    # then: only the title changed
    assert (task.title, task.work_order_id, task.assigned_user_id) == ("Dig the drop", work_order.pk, None)
    # when: the assign action is used instead
    root.post(
        reverse("admin:workorders_task_changelist"),
        {
            "action": "action_assign__technician_or_contractor",
            "_selected_action": [task.pk],
            "apply": "1",
            "user": crew.staff_tech.pk,
        },
    )
    # then
    task.refresh_from_db()
    assert task.assigned_user == crew.staff_tech
