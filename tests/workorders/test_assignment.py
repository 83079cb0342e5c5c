"""Who dispatches and who works: operator staff, the contractor's field manager, technicians."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from cos.errors import ApplicationError
from cos.models import TransitionLog
from tests.workorders.factories import assign, installation_work_order, photo_upload, prove, record, task_at
from workorders import services
from workorders.choices import PerformerKind, TaskStatus
from workorders.models import Evidence, Task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]


def _assignments(tasks) -> list[tuple]:
    return list(
        Task.objects.filter(pk__in=[t.pk for t in tasks])
        .order_by("position")
        .values_list("position", "assigned_user", "assigned_organization")
    )


def _contractor_tasks(work_order):
    return list(work_order.tasks.filter(performed_by=PerformerKind.CONTRACTOR).order_by("position"))


def test_operator_staff_hand_the_contractor_steps_to_a_contractor(crew):
    # given
    work_order = installation_work_order()
    tasks = _contractor_tasks(work_order)
    # when
    count = services.tasks_assign(task_ids=[t.pk for t in tasks], actor=crew.ops, organization=crew.contractor)
    # then
    assert count == 2
    assert _assignments(tasks) == [(1, None, crew.contractor.pk), (2, None, crew.contractor.pk)]
    assert not work_order.tasks.filter(position__gt=2, assigned_organization__isnull=False).exists()


def test_the_field_manager_assigns_the_organizations_tasks_to_its_own_technician(crew):
    # given
    work_order = installation_work_order()
    tasks = _contractor_tasks(work_order)
    services.tasks_assign(task_ids=[t.pk for t in tasks], actor=crew.ops, organization=crew.contractor)
    # when
    services.tasks_assign(task_ids=[t.pk for t in tasks], actor=crew.manager, user=crew.contractor_tech)
    # then
    tech, org = crew.contractor_tech.pk, crew.contractor.pk
    assert _assignments(tasks) == [(1, tech, org), (2, tech, org)]


def test_the_field_manager_cannot_assign_to_a_technician_of_another_organization(crew):
    # given
    work_order = installation_work_order()
    tasks = _contractor_tasks(work_order)
    services.tasks_assign(task_ids=[t.pk for t in tasks], actor=crew.ops, organization=crew.contractor)
    before = _assignments(tasks)
    # when
    with pytest.raises(PermissionDenied):
        services.tasks_assign(task_ids=[t.pk for t in tasks], actor=crew.manager, user=crew.rival_tech)
    # then
    assert _assignments(tasks) == before


def test_the_field_manager_cannot_assign_the_operators_tasks(crew):
    # given: the ONT step stays with the operator's own technician
    work_order = installation_work_order()
    ont_step = task_at(work_order, 3)
    services.tasks_assign(task_ids=[ont_step.pk], actor=crew.ops, user=crew.staff_tech)
    # when
    with pytest.raises(PermissionDenied):
        services.tasks_assign(task_ids=[ont_step.pk], actor=crew.manager, user=crew.contractor_tech)
    # then
    assert _assignments([ont_step]) == [(3, crew.staff_tech.pk, None)]


def test_one_forbidden_task_refuses_the_whole_assignment(crew):
    # given
    work_order = installation_work_order()
    own = task_at(work_order, 1)
    services.tasks_assign(task_ids=[own.pk], actor=crew.ops, organization=crew.contractor)
    operators = task_at(work_order, 4)
    before = _assignments([own, operators])
    # when
    with pytest.raises(PermissionDenied):
        services.tasks_assign(task_ids=[own.pk, operators.pk], actor=crew.manager, user=crew.contractor_tech)
    # then
    assert _assignments([own, operators]) == before


def test_a_technician_cannot_dispatch_work(crew):
    # given
    work_order = installation_work_order()
    task = task_at(work_order, 1)
    assign(work_order, organization=crew.contractor, positions=[1])
    # when
    with pytest.raises(PermissionDenied):
        services.tasks_assign(task_ids=[task.pk], actor=crew.contractor_tech, user=crew.contractor_tech)
    # then
    assert _assignments([task]) == [(1, None, crew.contractor.pk)]


def test_a_technician_must_work_for_the_organization_they_are_assigned_with(crew):
    # given
    work_order = installation_work_order()
    task = task_at(work_order, 1)
    # when
    with pytest.raises(ValidationError, match="does not work for"):
        services.tasks_assign(task_ids=[task.pk], actor=crew.ops, user=crew.rival_tech, organization=crew.contractor)
    # then
    assert _assignments([task]) == [(1, None, None)]


def test_a_closed_task_is_not_reassigned(crew):
    # given
    work_order = installation_work_order()
    assign(work_order, user=crew.staff_tech, positions=[1])
    task = task_at(work_order, 1)
    prove(task, crew.staff_tech)
    services.task_close(task_id=task.pk, actor=crew.staff_tech)
    # when
    with pytest.raises(ApplicationError) as refused:
        services.tasks_assign(task_ids=[task.pk], actor=crew.ops, user=crew.ops)
    # then
    assert refused.value.code == "task_closed"
    assert _assignments([task]) == [(1, crew.staff_tech.pk, None)]


def test_handing_a_task_to_a_contractor_takes_it_off_the_operators_technician(crew, client):
    # given: the drop was first given to the operator's technician
    work_order = installation_work_order()
    drop = task_at(work_order, 1)
    services.tasks_assign(task_ids=[drop.pk], actor=crew.ops, user=crew.staff_tech)
    # when: operations hands it to the contractor instead
    services.tasks_assign(task_ids=[drop.pk], actor=crew.ops, organization=crew.contractor)
    # then: the contractor's field manager finds it to dispatch, and the operator's technician no longer has it
    client.force_login(crew.manager)
    unassigned = client.get(reverse("field-home")).context["unassigned"]
    assert [t.pk for t in unassigned] == [drop.pk]
    client.force_login(crew.staff_tech)
    assert client.get(reverse("field-task", args=[drop.pk])).status_code == 403


def test_the_field_manager_dispatches_from_the_field_page(crew, client):
    # given
    work_order = installation_work_order()
    assign(work_order, organization=crew.contractor, positions=[1, 2])
    client.force_login(crew.manager)
    page = client.get(reverse("field-home"))
    assert [t.position for t in page.context["unassigned"]] == [1, 2]
    # when
    response = client.post(
        reverse("field-assign"),
        {"task": [t.pk for t in page.context["unassigned"]], "user": crew.contractor_tech.pk},
    )
    # then
    assert response.status_code == 302
    assert set(work_order.tasks.filter(position__in=[1, 2]).values_list("assigned_user", flat=True)) == {
        crew.contractor_tech.pk
    }
    assert not client.get(reverse("field-home")).context["unassigned"]


def test_the_field_manager_cannot_dispatch_to_another_organizations_technician_from_the_field_page(crew, client):
    # given
    work_order = installation_work_order()
    assign(work_order, organization=crew.contractor, positions=[1])
    task = task_at(work_order, 1)
    client.force_login(crew.manager)
    # when
    response = client.post(reverse("field-assign"), {"task": [task.pk], "user": crew.rival_tech.pk})
    # then: refused next to the technician field
    assert response.status_code == 400
    assert "Choose one of your organization&#x27;s technicians." in response.content.decode()
    assert _assignments([task]) == [(1, None, crew.contractor.pk)]


def test_a_technician_works_the_tasks_of_their_organization(crew):
    # given: assigned to the contractor, not yet to a person
    work_order = installation_work_order()
    assign(work_order, organization=crew.contractor, positions=[1])
    task = task_at(work_order, 1)
    # when
    record(task, crew.contractor_tech, "photo", files={"photo": photo_upload()})
    services.task_close(task_id=task.pk, actor=crew.contractor_tech)
    # then
    task.refresh_from_db()
    assert (task.status, task.completed_by, task.completed_by_organization) == (
        TaskStatus.DONE,
        crew.contractor_tech,
        crew.contractor,
    )


def test_another_technician_cannot_work_a_task_that_is_not_theirs(crew):
    # given
    work_order = installation_work_order()
    assign(work_order, user=crew.contractor_tech, organization=crew.contractor, positions=[1])
    task = task_at(work_order, 1)
    # when / then
    for outsider in (crew.rival_tech, crew.staff_tech):
        with pytest.raises(PermissionDenied):
            record(task, outsider, "photo", files={"photo": photo_upload()})
        with pytest.raises(PermissionDenied):
            services.task_close(task_id=task.pk, actor=outsider)
        with pytest.raises(PermissionDenied):
            services.task_skip(task_id=task.pk, actor=outsider, reason="not here")
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    assert not Evidence.objects.exists()


def test_another_technician_gets_403_on_the_task_page_and_changes_nothing(crew, client):
    # given
    work_order = installation_work_order()
    assign(work_order, user=crew.contractor_tech, organization=crew.contractor, positions=[1])
    task = task_at(work_order, 1)
    client.force_login(crew.rival_tech)
    url = reverse("field-task", args=[task.pk])
    # when
    page = client.get(url)
    posts = [
        client.post(url, {"action": "evidence", "kind": "photo", "submission_key": "k1", "photo": photo_upload()}),
        client.post(url, {"action": "skip", "reason": "not here"}),
        client.post(url, {"action": "close"}),
    ]
    # then
    assert page.status_code == 403
    assert [r.status_code for r in posts] == [403, 403, 403]
    assert client.get(reverse("field-work-order", args=[work_order.pk])).status_code == 403
    task.refresh_from_db()
    assert (task.status, task.skip_reason) == (TaskStatus.OPEN, "")
    assert not Evidence.objects.exists()


def test_my_work_lists_only_my_tasks_and_my_organizations(crew, client):
    # given
    work_order = installation_work_order()
    assign(work_order, organization=crew.contractor, positions=[1, 2])
    assign(work_order, user=crew.staff_tech, positions=[3, 4, 5, 6, 7, 8])
    # when
    mine = {}
    for person in (crew.contractor_tech, crew.staff_tech, crew.rival_tech):
        client.force_login(person)
        groups = client.get(reverse("field-home")).context["groups"]
        mine[person.username] = sorted(t.position for _, _, jobs in groups for job in jobs for t in job.my_tasks)
    # then
    assert mine == {"carl-contractor": [1, 2], "tina-tech": [3, 4, 5, 6, 7, 8], "rita-rival": []}


def test_assigning_nothing_is_an_error_not_a_success(crew, client):
    # given
    work_order = installation_work_order()
    assign(work_order, organization=crew.contractor, positions=[1, 2])
    client.force_login(crew.manager)
    # when: the service, and the page with no task ticked
    with pytest.raises(ValidationError) as refused:
        services.tasks_assign(task_ids=[], actor=crew.manager, user=crew.contractor_tech)
    response = client.post(reverse("field-assign"), {"user": crew.contractor_tech.pk})
    # then
    assert refused.value.messages == ["Choose at least one task to assign."]
    assert response.status_code == 400
    body = response.content.decode()
    assert "Choose at least one task to assign." in body
    assert "0 task" not in body
    assert _assignments(work_order.tasks.filter(position__in=[1, 2])) == [
        (1, None, crew.contractor.pk),
        (2, None, crew.contractor.pk),
    ]


def test_the_field_manager_selects_all_unassigned_tasks_at_once(crew, client):
    # given
    assign(installation_work_order(), organization=crew.contractor, positions=[1, 2])
    client.force_login(crew.manager)
    # when
    body = client.get(reverse("field-home")).content.decode()
    # then: a "select all" box above the tasks' boxes
    assert 'id="assign-all"' in body
    assert body.index('id="assign-all"') < body.index('name="task"')


def _schedule(client, work_order, **data):
    return client.post(reverse("field-schedule", args=[work_order.pk]), data)


def test_the_field_manager_schedules_the_organizations_job_with_a_window(crew, client):
    # given
    work_order = installation_work_order()
    assign(work_order, organization=crew.contractor, positions=[1, 2])
    client.force_login(crew.manager)
    assert (
        f"{reverse('field-work-order', args=[work_order.pk])}#schedule"
        in client.get(reverse("field-home")).content.decode()
    )
    # when
    response = _schedule(client, work_order, on="2031-05-14", window_start="08:00", window_end="12:00")
    # then
    assert response.status_code == 302
    work_order.refresh_from_db()
    assert (work_order.status, str(work_order.scheduled_for), work_order.scheduled_window) == (
        "scheduled",
        "2031-05-14",
        "08:00–12:00",
    )
    page = client.get(reverse("field-work-order", args=[work_order.pk])).content.decode()
    assert "Wednesday 14 May, 08:00–12:00" in page
    # when: moved to the afternoon of the next day (still scheduled, logged)
    _schedule(client, work_order, on="2031-05-15", window_start="13:00", window_end="17:00")
    # then
    work_order.refresh_from_db()
    assert (str(work_order.scheduled_for), work_order.scheduled_window) == ("2031-05-15", "13:00–17:00")
    assert list(
        TransitionLog.objects.filter(object_id=work_order.pk, transition__in=["schedule", "reschedule"])
        .order_by("id")
        .values_list("transition", "actor", "reason")
    ) == [
        ("schedule", crew.manager.pk, "visit on 2031-05-14 08:00–12:00"),
        ("reschedule", crew.manager.pk, "visit on 2031-05-15 13:00–17:00"),
    ]


def test_a_window_that_ends_before_it_starts_is_an_error_next_to_it(crew, client):
    # given
    work_order = installation_work_order()
    assign(work_order, organization=crew.contractor, positions=[1, 2])
    client.force_login(crew.manager)
    # when
    response = _schedule(client, work_order, on="2031-05-14", window_start="12:00", window_end="08:00")
    # then
    assert response.status_code == 400
    assert "The window must end after it starts." in response.content.decode()
    work_order.refresh_from_db()
    assert work_order.scheduled_for is None


def test_a_field_manager_does_not_schedule_another_organizations_job(crew, client):
    # given: a job with no task of the manager's organization
    work_order = installation_work_order()
    assign(work_order, organization=crew.rival, positions=[1, 2])
    client.force_login(crew.manager)
    # when
    with pytest.raises(PermissionDenied):
        services.work_order_schedule(work_order_id=work_order.pk, on=date(2031, 5, 14), actor=crew.manager)
    response = _schedule(client, work_order, on="2031-05-14")
    # then
    assert response.status_code == 403
    work_order.refresh_from_db()
    assert (work_order.status, work_order.scheduled_for) == ("created", None)
