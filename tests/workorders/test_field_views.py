"""The technician's phone pages: my work, a job, a task with its evidence forms, close through the forms."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cos import services as cos_services
from tests.workorders.factories import assign, installation_work_order, photo_upload, task_at, work_through
from workorders import services
from workorders.choices import TaskStatus
from workorders.models import Evidence, Task, WorkOrder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]


@pytest.fixture
def tech_client(client, crew):
    client.force_login(crew.staff_tech)
    return client


def _job(crew, *, scheduled_in_days=None, **address_fields):
    work_order = installation_work_order(**address_fields)
    assign(work_order, user=crew.staff_tech)
    if scheduled_in_days is not None:
        on = timezone.localdate() + timedelta(days=scheduled_in_days)
        services.work_order_schedule(work_order_id=work_order.pk, on=on, actor=crew.ops)
    return work_order


def _groups(response) -> dict[str, list[int]]:
    return {key: [wo.pk for wo in jobs] for key, _, jobs in response.context["groups"]}


def _task_url(task) -> str:
    return reverse("field-task", args=[task.pk])


def test_my_work_needs_a_login(client):
    # when
    response = client.get(reverse("field-home"))
    # then
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={reverse('field-home')}"


def test_my_work_is_grouped_overdue_today_and_upcoming(crew, tech_client):
    # given
    overdue = _job(crew, scheduled_in_days=-1, street="Bakgatan")
    today = _job(crew, scheduled_in_days=0, street="Idagvägen")
    upcoming = _job(crew, scheduled_in_days=3, street="Framtidsgatan")
    past_due = _job(crew, scheduled_in_days=5, street="Sengatan")
    WorkOrder.objects.filter(pk=past_due.pk).update(due_date=timezone.localdate() - timedelta(days=2))
    unscheduled = _job(crew, street="Väntgatan")
    # when
    response = tech_client.get(reverse("field-home"))
    # then
    assert response.status_code == 200
    assert _groups(response) == {
        "overdue": [overdue.pk, past_due.pk],
        "today": [today.pk],
        "upcoming": [upcoming.pk],
        "unscheduled": [unscheduled.pk],
    }
    body = response.content.decode()
    positions = [
        body.index(text) for text in ("Overdue", "Bakgatan", "Today", "Idagvägen", "Upcoming", "Framtidsgatan")
    ]
    assert positions == sorted(positions)


def test_my_work_links_to_each_of_my_tasks(crew, tech_client):
    # given
    work_order = _job(crew, scheduled_in_days=0)
    # when
    body = tech_client.get(reverse("field-home")).content.decode()
    # then
    assert work_order.address.label in body
    for task in work_order.tasks.all():
        assert f'href="{_task_url(task)}"' in body


def test_my_work_costs_the_same_queries_for_3_or_15_jobs(crew, tech_client, django_assert_max_num_queries):
    # given
    for _ in range(3):
        _job(crew, scheduled_in_days=0)
    with django_assert_max_num_queries(10) as baseline:
        tech_client.get(reverse("field-home"))
    for days in range(12):
        _job(crew, scheduled_in_days=days - 6)
    # when / then
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        response = tech_client.get(reverse("field-home"))
    assert sum(len(jobs) for _, _, jobs in response.context["groups"]) == 15


def test_the_field_managers_page_costs_the_same_queries_for_3_or_15_jobs(crew, client, django_assert_max_num_queries):
    # given
    client.force_login(crew.manager)
    for _ in range(3):
        assign(installation_work_order(), organization=crew.contractor, positions=[1, 2])
    with django_assert_max_num_queries(12) as baseline:
        client.get(reverse("field-home"))
    for _ in range(12):
        assign(installation_work_order(), organization=crew.contractor, positions=[1, 2])
    # when / then
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        response = client.get(reverse("field-home"))
    assert len(response.context["unassigned"]) == 30


def test_a_cancelled_job_leaves_my_work(crew, tech_client, deliver):
    # given: today's job, then the address is connected outside the job (e.g. a legacy import)
    work_order = _job(crew, scheduled_in_days=0)
    deliver(cos_services.address_mark_connected, address_id=work_order.address_id, actor=crew.ops)
    # when
    response = tech_client.get(reverse("field-home"))
    # then
    assert _groups(response) == {"today": [], "overdue": [], "upcoming": [], "unscheduled": []}


def test_the_job_page_shows_the_address_and_the_tasks_in_order(crew, tech_client, templates):
    # given
    work_order = _job(crew, street="Solvägen", house_number=3)
    # when
    response = tech_client.get(reverse("field-work-order", args=[work_order.pk]))
    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert "Solvägen 3" in body
    titles = list(templates["sfu-drop"].task_templates.order_by("position").values_list("title", flat=True))
    positions = [body.index(title) for title in titles]
    assert positions == sorted(positions)


def test_the_task_page_shows_the_evidence_forms_the_task_needs(crew, tech_client):
    # given
    work_order = _job(crew)
    # when
    ont_page = tech_client.get(_task_url(task_at(work_order, 3))).content.decode()
    light_page = tech_client.get(_task_url(task_at(work_order, 4))).content.decode()
    # then
    assert 'id="form-ont_serial"' in ont_page
    assert 'id="form-photo"' in ont_page
    assert 'id="form-light_level"' not in ont_page
    assert 'id="form-light_level"' in light_page
    assert 'id="form-photo"' not in light_page
    assert 'id="close-task"' in light_page


def test_a_light_level_is_recorded_and_the_task_closed_through_the_page(crew, tech_client):
    # given
    work_order = _job(crew)
    work_through(work_order, crew.staff_tech, until=3)
    light = task_at(work_order, 4)
    url = _task_url(light)
    key = tech_client.get(url).context["submission_key"]
    # when
    recorded = tech_client.post(
        url, {"action": "evidence", "kind": "light_level", "light_level_dbm": "-19.5", "submission_key": key}
    )
    page = tech_client.get(url).content.decode()
    closed = tech_client.post(url, {"action": "close"})
    # then
    assert recorded.status_code == 302
    assert "Saved: -19.50 dBm, passes." in page
    assert 'class="badge ok">pass' in page
    assert closed.status_code == 302
    assert closed.url == reverse("field-work-order", args=[work_order.pk])
    light.refresh_from_db()
    assert (light.status, light.completed_by) == (TaskStatus.DONE, crew.staff_tech)


def test_a_double_tap_on_save_stores_the_evidence_once(crew, tech_client):
    # given
    light = task_at(_job(crew), 4)
    form = {"action": "evidence", "kind": "light_level", "light_level_dbm": "-19.5", "submission_key": "tap-1"}
    # when
    tech_client.post(_task_url(light), form)
    tech_client.post(_task_url(light), form)
    # then
    assert Evidence.objects.filter(task=light).count() == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [("strong", "must be a number"), ("-60", "not a real reading"), ("-1.000,5", "one decimal comma or point")],
)
def test_a_bad_light_level_shows_an_error_and_stores_nothing(crew, tech_client, value, message):
    # given
    light = task_at(_job(crew), 4)
    # when
    response = tech_client.post(
        _task_url(light), {"action": "evidence", "kind": "light_level", "light_level_dbm": value, "submission_key": "k"}
    )
    # then
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Evidence.objects.exists()


def test_closing_without_the_evidence_shows_what_is_missing(crew, tech_client):
    # given
    drop = task_at(_job(crew), 1)
    # when
    response = tech_client.post(_task_url(drop), {"action": "close"})
    # then
    assert response.status_code == 400
    assert "This task needs evidence first: photo." in response.content.decode()
    assert Task.objects.get(pk=drop.pk).status == TaskStatus.OPEN


def test_a_photo_is_uploaded_from_the_page_and_shown_as_a_thumbnail(crew, tech_client):
    # given
    drop = task_at(_job(crew), 1)
    url = _task_url(drop)
    # when
    response = tech_client.post(
        url, {"action": "evidence", "kind": "photo", "submission_key": "p1", "photo": photo_upload("drop.png")}
    )
    # then
    assert response.status_code == 302
    evidence = Evidence.objects.get(task=drop)
    assert f'src="{evidence.thumbnail_url}"' in tech_client.get(url).content.decode()
    thumbnail = tech_client.get(evidence.thumbnail_url)
    assert thumbnail.status_code == 200
    assert thumbnail["Content-Type"] == "image/jpeg"


def test_a_technician_skips_a_task_from_the_page(crew, tech_client):
    # given
    drop = task_at(_job(crew), 1)
    # when
    response = tech_client.post(_task_url(drop), {"action": "skip", "reason": "Drop already in place"})
    # then
    assert response.status_code == 302
    drop.refresh_from_db()
    assert (drop.status, drop.skip_reason) == (TaskStatus.SKIPPED, "Drop already in place")


def _post_light_level(tech_client, task, value, key):
    return tech_client.post(
        _task_url(task), {"action": "evidence", "kind": "light_level", "light_level_dbm": value, "submission_key": key}
    )


def test_a_comma_light_level_is_saved_as_typed_and_read_back(crew, tech_client):
    # given
    light = task_at(_job(crew), 4)
    # when: "-2,5" (once saved as -25.00 dBm, a pass), then "-20,5"
    first = _post_light_level(tech_client, light, "-2,5", "c1")
    first_page = tech_client.get(_task_url(light)).content.decode()
    second = _post_light_level(tech_client, light, "-20,5", "c2")
    second_page = tech_client.get(_task_url(light)).content.decode()
    # then
    assert (first.status_code, second.status_code) == (302, 302)
    assert "Saved: -2.50 dBm, fails (pass -27 to -8 dBm)." in first_page
    assert "Saved: -20.50 dBm, passes." in second_page
    assert [e.light_level_dbm for e in Evidence.objects.filter(task=light)] == [Decimal("-2.50"), Decimal("-20.50")]


def test_closing_on_a_failing_reading_says_why_and_what_to_do(crew, tech_client):
    # given
    work_order = _job(crew)
    work_through(work_order, crew.staff_tech, until=3)
    light = task_at(work_order, 4)
    _post_light_level(tech_client, light, "-30", "f1")
    # when
    response = tech_client.post(_task_url(light), {"action": "close"})
    # then
    assert response.status_code == 400
    body = response.content.decode()
    assert (
        "The last light level, -30.00 dBm, fails (pass -27 to -8 dBm): record a new reading, or skip the task with a "
        "reason." in body
    )
    assert 'id="skip-form"' in body
    assert Task.objects.get(pk=light.pk).status == TaskStatus.OPEN


def test_an_empty_signature_says_draw_it_next_to_the_pad(crew, tech_client):
    # given
    sign_off = task_at(_job(crew), 8)
    # when
    response = tech_client.post(
        _task_url(sign_off), {"action": "evidence", "kind": "signature", "signature": "", "submission_key": "s1"}
    )
    # then
    assert response.status_code == 400
    body = response.content.decode()
    assert "Draw the customer&#x27;s signature." in body
    assert body.index("signature-pad") < body.index("Draw the customer&#x27;s signature.") < body.index("Clear")
    assert not Evidence.objects.exists()


def test_a_refusal_of_the_service_is_shown_next_to_its_field(crew, tech_client):
    # given: a serial in the right format that is not in the inventory
    ont_step = task_at(_job(crew), 3)
    # when
    response = tech_client.post(
        _task_url(ont_step),
        {"action": "evidence", "kind": "ont_serial", "ont_serial": "ADTN0000FFFF", "submission_key": "o1"},
    )
    # then
    assert response.status_code == 400
    body = response.content.decode()
    form = body[body.index('id="form-ont_serial"') :]
    assert "ONT ADTN0000FFFF is not in the inventory" in form[: form.index("</form>")]


def test_a_skip_without_a_reason_is_an_error_next_to_the_reason(crew, tech_client):
    # given
    drop = task_at(_job(crew), 1)
    # when
    response = tech_client.post(_task_url(drop), {"action": "skip", "reason": ""})
    # then
    assert response.status_code == 400
    body = response.content.decode()
    skip_form = body[body.index('id="skip-form"') :]
    assert "Say why." in skip_form[: skip_form.index("</form>")]
    assert Task.objects.get(pk=drop.pk).status == TaskStatus.OPEN


def test_a_wrong_photo_is_removed_from_the_page(crew, tech_client):
    # given
    drop = task_at(_job(crew), 1)
    tech_client.post(
        _task_url(drop), {"action": "evidence", "kind": "photo", "submission_key": "p1", "photo": photo_upload()}
    )
    photo = Evidence.objects.get(task=drop)
    # when
    response = tech_client.post(_task_url(drop), {"action": "remove", "evidence": photo.pk})
    # then
    assert response.status_code == 302
    page = tech_client.get(_task_url(drop)).content.decode()
    assert "Photo removed (kept on record for the operator)." in page
    assert f'id="evidence-{photo.pk}"' not in page
    photo.refresh_from_db()
    assert photo.removed_by == crew.staff_tech


def test_the_technician_reopens_his_task_from_the_page(crew, tech_client):
    # given
    work_order = _job(crew)
    work_through(work_order, crew.staff_tech, until=1)
    drop = task_at(work_order, 1)
    assert 'id="reopen-form"' in tech_client.get(_task_url(drop)).content.decode()
    # when
    response = tech_client.post(_task_url(drop), {"action": "reopen", "reason": "Photo shows the wrong wall"})
    # then
    assert response.status_code == 302
    assert Task.objects.get(pk=drop.pk).status == TaskStatus.OPEN


def test_a_task_of_another_organization_says_who_holds_it(crew, client):
    # given
    work_order = installation_work_order()
    assign(work_order, user=crew.contractor_tech, organization=crew.contractor, positions=[1])
    crew.contractor_tech.first_name, crew.contractor_tech.last_name = "Carl", "Berg"
    crew.contractor_tech.save(update_fields=["first_name", "last_name"])
    client.force_login(crew.rival_tech)
    # when
    response = client.get(_task_url(task_at(work_order, 1)))
    # then: still a 403, but a page that says who holds it and whom to ask
    assert response.status_code == 403
    body = response.content.decode()
    assert "<strong>Gravteam</strong> — Carl Berg" in body
    assert "Ask your field manager" in body
    assert 'href="/field/"' in body


def test_someone_outside_the_field_is_told_nothing_about_the_holder(crew, client, django_user_model):
    # given: a logged-in subscriber
    work_order = installation_work_order()
    assign(work_order, user=crew.contractor_tech, organization=crew.contractor, positions=[1])
    client.force_login(django_user_model.objects.create_user("sven", "sven@example.test", "pw-123456"))
    # when
    response = client.get(_task_url(task_at(work_order, 1)))
    # then
    assert response.status_code == 403
    assert "Gravteam" not in response.content.decode()
