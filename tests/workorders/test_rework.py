"""A rejected job goes somewhere: the operator picks the tasks to redo and says why, those tasks reopen for their
people with the reason on top, the people are told, and the redone job comes back for sign-off."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.urls import reverse

from cos.models import TransitionLog
from tests.workorders.factories import assign, installation_work_order, prove, task_at, work_through
from workorders import services
from workorders.choices import TaskStatus, WorkOrderStatus
from workorders.models import FieldNotice, InstallationRecord, Task
from workorders.permissions import FieldActor
from workorders.selectors import my_work

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]

ENTRY, PHOTOS = 2, 7


@pytest.fixture
def completed_job(crew, deliver):
    """A job done by the contractor (first two steps) and the operator's technician, waiting for sign-off."""
    work_order = installation_work_order(street="Kvarngatan", house_number=4)
    assign(work_order, user=crew.contractor_tech, organization=crew.contractor, positions=[1, 2])
    assign(work_order, user=crew.staff_tech, positions=[3, 4, 5, 6, 7, 8])
    deliver(work_through, work_order, crew.contractor_tech, until=2)
    deliver(work_through, work_order, crew.staff_tech)
    work_order.refresh_from_db()
    assert work_order.status == WorkOrderStatus.COMPLETED
    return work_order


def _jobs_of(user) -> list[int]:
    return [wo.pk for jobs in my_work(FieldActor.of(user)).values() for wo in jobs]


def _statuses(work_order) -> dict[int, str]:
    return dict(work_order.tasks.values_list("position", "status"))


def test_rejecting_reopens_the_chosen_tasks_with_the_reason_logged(completed_job, crew):
    # given
    entry, photos = task_at(completed_job, ENTRY), task_at(completed_job, PHOTOS)
    # when
    services.work_order_reject(
        work_order_id=completed_job.pk,
        actor=crew.ops,
        reason="Entry not sealed; wall box photo blurred",
        task_ids=[entry.pk, photos.pk],
    )
    # then: the job is back in the field, only those two tasks are open again
    completed_job.refresh_from_db()
    assert completed_job.status == WorkOrderStatus.IN_PROGRESS
    statuses = _statuses(completed_job)
    assert [p for p, status in statuses.items() if status == TaskStatus.OPEN] == [ENTRY, PHOTOS]
    logs = TransitionLog.objects.filter(
        content_type=ContentType.objects.get_for_model(Task), object_id=entry.pk, transition="reopen"
    )
    assert [(log.actor, log.reason) for log in logs] == [(crew.ops, "Entry not sealed; wall box photo blurred")]
    assert Task.objects.get(pk=entry.pk).redo_reason == "Entry not sealed; wall box photo blurred"


def test_the_tasks_to_redo_go_back_to_their_peoples_my_work(completed_job, crew):
    # given: after the rejection the job had vanished from everyone's My work
    assert _jobs_of(crew.contractor_tech) == []
    assert _jobs_of(crew.staff_tech) == []
    entry = task_at(completed_job, ENTRY)
    # when
    services.work_order_reject(
        work_order_id=completed_job.pk, actor=crew.ops, reason="Entry not sealed", task_ids=[entry.pk]
    )
    # then: it is on the contractor technician's My work, with the reason; not on the other technician's
    assert _jobs_of(crew.contractor_tech) == [completed_job.pk]
    assert _jobs_of(crew.staff_tech) == []
    groups = my_work(FieldActor.of(crew.contractor_tech))
    (job,) = [wo for jobs in groups.values() for wo in jobs]
    assert [(t.position, t.redo_reason) for t in job.my_tasks] == [(ENTRY, "Entry not sealed")]


def test_the_people_of_the_tasks_to_redo_are_told(completed_job, crew):
    # given: the entry is held by the contractor without a named person now; the photos by the staff technician
    entry, photos = task_at(completed_job, ENTRY), task_at(completed_job, PHOTOS)
    Task.objects.filter(pk=entry.pk).update(assigned_user=None)
    # when
    services.work_order_reject(
        work_order_id=completed_job.pk, actor=crew.ops, reason="Redo both", task_ids=[entry.pk, photos.pk]
    )
    # then: the contractor's field manager (who dispatches it) and the technician each get one notice
    notices = {n.recipient: n.text for n in FieldNotice.objects.all()}
    assert set(notices) == {crew.manager, crew.staff_tech}
    address = completed_job.address.label
    assert notices[crew.staff_tech] == (
        f"WO-{completed_job.pk} at {address} was sent back: Redo both. Redo: 7. Completion photos."
    )
    assert "2. Building entry and wall box" in notices[crew.manager]


def test_rejecting_with_no_task_chosen_is_refused_and_changes_nothing(completed_job, crew):
    # when
    with pytest.raises(ValidationError) as refused:
        services.work_order_reject(work_order_id=completed_job.pk, actor=crew.ops, reason="Redo", task_ids=[])
    # then
    assert refused.value.messages == ["Choose the tasks to redo."]
    completed_job.refresh_from_db()
    assert (completed_job.status, completed_job.rejection_reason) == (WorkOrderStatus.COMPLETED, "")
    assert set(_statuses(completed_job).values()) == {TaskStatus.DONE}
    assert not FieldNotice.objects.exists()


def test_a_task_of_another_job_is_not_sent_back(completed_job, crew):
    # given
    other = task_at(installation_work_order(), 1)
    # when
    with pytest.raises(ValidationError):
        services.work_order_reject(work_order_id=completed_job.pk, actor=crew.ops, reason="x", task_ids=[other.pk])
    # then
    completed_job.refresh_from_db()
    assert completed_job.status == WorkOrderStatus.COMPLETED


def test_the_redone_job_completes_again_and_is_accepted(completed_job, crew, deliver):
    # given
    entry = task_at(completed_job, ENTRY)
    services.work_order_reject(
        work_order_id=completed_job.pk, actor=crew.ops, reason="Entry not sealed", task_ids=[entry.pk]
    )
    # when: the contractor's technician redoes it
    prove(entry, crew.contractor_tech)
    deliver(services.task_close, task_id=entry.pk, actor=crew.contractor_tech)
    # then: back for sign-off, without the redo mark
    completed_job.refresh_from_db()
    assert completed_job.status == WorkOrderStatus.COMPLETED
    assert Task.objects.get(pk=entry.pk).redo_reason == ""
    # when
    deliver(services.work_order_accept, work_order_id=completed_job.pk, actor=crew.ops)
    # then
    completed_job.refresh_from_db()
    assert completed_job.status == WorkOrderStatus.ACCEPTED
    assert InstallationRecord.objects.filter(work_order=completed_job).count() == 1


def test_the_reason_is_on_top_of_the_job_and_the_task_pages(completed_job, crew, client):
    # given
    entry = task_at(completed_job, ENTRY)
    services.work_order_reject(
        work_order_id=completed_job.pk, actor=crew.ops, reason="Entry not sealed", task_ids=[entry.pk]
    )
    client.force_login(crew.contractor_tech)
    # when
    job_page = client.get(reverse("field-work-order", args=[completed_job.pk])).content.decode()
    task_page = client.get(reverse("field-task", args=[entry.pk])).content.decode()
    # then
    for page in (job_page, task_page):
        assert 'id="sent-back"' in page
        assert "Sent back by the operator:</strong> Entry not sealed" in page
        assert page.index('id="sent-back"') < page.index("<h2")
    assert 'id="close-task"' in task_page


def test_the_notice_shows_on_my_work_until_it_is_marked_read(completed_job, crew, client):
    # given
    entry = task_at(completed_job, ENTRY)
    services.work_order_reject(
        work_order_id=completed_job.pk, actor=crew.ops, reason="Entry not sealed", task_ids=[entry.pk]
    )
    notice = FieldNotice.objects.get(recipient=crew.contractor_tech)
    client.force_login(crew.contractor_tech)
    assert f'id="notice-{notice.pk}"' in client.get(reverse("field-home")).content.decode()
    # when
    response = client.post(reverse("field-notice-read", args=[notice.pk]))
    # then
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.read_at is not None
    body = client.get(reverse("field-home")).content.decode()
    assert f'id="notice-{notice.pk}"' not in body
    assert "Building entry and wall box" in body  # the task itself stays on My work until it is redone


def test_nobody_marks_another_persons_notice_read(completed_job, crew, client):
    # given
    entry = task_at(completed_job, ENTRY)
    services.work_order_reject(work_order_id=completed_job.pk, actor=crew.ops, reason="x", task_ids=[entry.pk])
    notice = FieldNotice.objects.get(recipient=crew.contractor_tech)
    client.force_login(crew.rival_tech)
    # when
    response = client.post(reverse("field-notice-read", args=[notice.pk]))
    # then
    assert response.status_code == 404
    notice.refresh_from_db()
    assert notice.read_at is None


def _admin_reject(client, work_order, **data):
    return client.post(
        reverse("admin:workorders_workorder_changelist"),
        {"action": "reject", "_selected_action": [work_order.pk], **data},
    )


def test_the_admins_reject_asks_for_the_tasks_and_the_reason(completed_job, client, django_user_model):
    # given
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456"))
    entry = task_at(completed_job, ENTRY)
    # when: the form is asked for
    form_page = _admin_reject(client, completed_job)
    # then: it lists the job's tasks to pick
    assert form_page.status_code == 200
    body = form_page.content.decode()
    assert f'value="{entry.pk}"' in body
    assert "Building entry and wall box" in body
    # when: submitted with no task picked
    refused = _admin_reject(client, completed_job, apply="1", reason="Entry not sealed")
    # then: a form error, nothing changed
    assert refused.status_code == 200
    assert "Choose the tasks to redo." in refused.content.decode()
    completed_job.refresh_from_db()
    assert completed_job.status == WorkOrderStatus.COMPLETED
    # when: with the entry picked
    done = _admin_reject(client, completed_job, apply="1", reason="Entry not sealed", tasks=[entry.pk])
    # then
    assert done.status_code == 302
    completed_job.refresh_from_db()
    assert completed_job.status == WorkOrderStatus.IN_PROGRESS
    assert [p for p, s in _statuses(completed_job).items() if s == TaskStatus.OPEN] == [ENTRY]
