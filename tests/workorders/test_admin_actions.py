"""The operator's admin of field work: actions that ask for input first (assign tasks, reject a job), the
work-order page with all its evidence, and the search that finds a job the way operators name it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import strip_tags

from cos.choices import AddressStatus
from marketplace import services as marketplace_services
from tests.cos.factories import AddressFactory, ONTFactory, OrganizationFactory
from tests.marketplace.factories import world
from tests.workorders.factories import assign, installation_work_order, photo_upload, record, task_at, work_through
from workorders import demo_data, services
from workorders.choices import EvidenceKind, WorkOrderStatus
from workorders.models import Evidence, WorkOrder

pytestmark = pytest.mark.django_db


def test_assign_tasks_asks_for_the_assignee_then_assigns(admin_client):
    # given
    demo_data.seed()
    work_order = installation_work_order(address=AddressFactory(status=AddressStatus.IN_DEPLOYMENT))
    contractor = OrganizationFactory(kind="contractor")
    url = "/admin/workorders/workorder/"
    # when: the action shows its form, which posts back to the same action
    form = admin_client.post(url, {"action": "assign_tasks", "_selected_action": [work_order.pk]})
    assert form.status_code == 200
    assert 'name="action" value="assign_tasks"' in form.content.decode()
    admin_client.post(
        url,
        {
            "action": "assign_tasks",
            "_selected_action": [work_order.pk],
            "apply": "1",
            "organization": contractor.pk,
            "only_open": "on",
        },
    )
    # then
    assert set(work_order.tasks.values_list("assigned_organization", flat=True)) == {contractor.pk}


def test_the_assign_form_lists_technicians_and_not_the_field_manager(crew, admin_client):
    # given: a job to hand out, and a contractor with a field manager and a technician
    demo_data.seed()
    work_order = installation_work_order(address=AddressFactory(status=AddressStatus.IN_DEPLOYMENT))
    # when
    form = admin_client.post(
        "/admin/workorders/workorder/", {"action": "assign_tasks", "_selected_action": [work_order.pk]}
    ).content.decode()
    # then: the technicians are offered, the field manager who hands the work out is not
    technicians = form.split('name="user"')[1].split("</select>")[0]
    assert "tina-tech" in technicians
    assert "carl-contractor" in technicians
    assert "frida-manager" not in technicians


# --- the work-order page and the search ---------------------------------------------------------------------------


@pytest.fixture
def ops_client(crew, client):
    client.force_login(crew.ops)
    return client


def _signed_off(crew, deliver, *, serial: str, extra_photos: int = 0, **address):
    """A job with contractor work waiting for sign-off: photos, a failing then a passing light level, the ONT serial,
    a speed test, the customer's signature."""
    work_order = installation_work_order(**address)
    assign(work_order, user=crew.contractor_tech, organization=crew.contractor, positions=[1, 2])
    assign(work_order, user=crew.staff_tech, positions=[3, 4, 5, 6, 7, 8])
    deliver(work_through, work_order, crew.contractor_tech, until=2)
    deliver(work_through, work_order, crew.staff_tech, until=3, ont_serial=ONTFactory(serial=serial).serial)
    record(task_at(work_order, 4), crew.staff_tech, EvidenceKind.LIGHT_LEVEL, light_level_dbm="-30.5")
    for _ in range(extra_photos):
        record(task_at(work_order, 7), crew.staff_tech, EvidenceKind.PHOTO, files={"photo": photo_upload()})
    deliver(work_through, work_order, crew.staff_tech)
    work_order.refresh_from_db()
    assert work_order.status == WorkOrderStatus.COMPLETED
    return work_order


@pytest.fixture
def signed_off_job(crew, deliver, templates):
    return _signed_off(crew, deliver, serial="ADTN00C0FFEE", street="Ekvägen", house_number=12)


def test_the_work_order_page_shows_every_tasks_evidence_and_its_history(signed_off_job, ops_client):
    # given
    evidence = list(Evidence.objects.filter(task__work_order=signed_off_job))
    pictures = [e for e in evidence if e.kind in (EvidenceKind.PHOTO, EvidenceKind.SIGNATURE)]
    assert {e.kind for e in pictures} == {EvidenceKind.PHOTO, EvidenceKind.SIGNATURE}
    # when
    response = ops_client.get(reverse("admin:workorders_workorder_change", args=[signed_off_job.pk]))
    # then: every photo and the signature as a thumbnail, through the view that checks who asks
    body = response.content.decode()
    assert response.status_code == 200
    for picture in pictures:
        assert f'src="{picture.thumbnail_url}"' in body
        assert f'href="{picture.file_url}"' in body
    assert ops_client.get(pictures[0].thumbnail_url).status_code == 200
    # the readings with pass or fail, and the ONT serial
    text = " ".join(strip_tags(body).split())
    assert "-30.50 dBm fail" in text
    assert "-19.50 dBm pass" in text
    assert "950.00 ↓ / 940.00 ↑ Mbit/s pass" in text
    assert "ONT ADTN00C0FFEE" in text
    # each task, who held it and who did it; the work order's transition history
    assert "Drop from the distribution point" in text
    assert "carl-contractor, Gravteam" in text
    assert "transition history" in text.lower()
    assert "in_progress completed" in text
    # read-only: no field of a task or its evidence can be posted from here
    assert 'name="tasks-0-title"' not in body
    assert 'name="tasks-0-status"' not in body


def test_the_work_order_page_costs_the_same_queries_for_more_evidence(signed_off_job, crew, deliver, ops_client):
    # given: a job with the usual evidence, and one with six more photos
    more_photos = _signed_off(crew, deliver, serial="ADTN00C0FFEF", extra_photos=6)
    with CaptureQueriesContext(connection) as baseline:
        ops_client.get(reverse("admin:workorders_workorder_change", args=[signed_off_job.pk]))
    # when
    with CaptureQueriesContext(connection) as more:
        response = ops_client.get(reverse("admin:workorders_workorder_change", args=[more_photos.pk]))
    # then
    assert response.status_code == 200
    assert response.content.decode().count('class="evidence-item evidence-photo') == 6 + 4
    assert len(more.captured_queries) <= len(baseline.captured_queries)


def _search(client, term: str) -> set[int]:
    response = client.get(reverse("admin:workorders_workorder_changelist"), {"q": term})
    assert response.status_code == 200
    return {work_order.pk for work_order in response.context["cl"].result_list}


def test_work_orders_are_found_by_their_name_as_shown(signed_off_job, ops_client):
    # given
    other = installation_work_order()
    # when / then
    assert _search(ops_client, f"WO-{signed_off_job.pk}") == {signed_off_job.pk}
    assert _search(ops_client, f"wo {other.pk}") == {other.pk}
    assert _search(ops_client, str(other.pk)) == {other.pk}


def test_work_orders_are_found_by_the_address_as_the_list_shows_it(signed_off_job, ops_client):
    # given: the same street, other numbers (one starting with the same digits)
    installation_work_order(street="Ekvägen", house_number=120)
    installation_work_order(street="Ekvägen", house_number=3)
    # when
    listed = ops_client.get(reverse("admin:workorders_workorder_changelist"))
    found = _search(ops_client, "Ekvägen 12")
    # then
    assert "Ekvägen 12, Västerås" in listed.content.decode()
    assert found == {signed_off_job.pk}
    assert len(_search(ops_client, "ekvägen")) == 3


def test_work_orders_are_found_by_the_ont_serial_scanned_or_recorded(signed_off_job, crew, deliver, ops_client):
    # given
    installation_work_order()
    # when / then: the serial as scanned on site
    assert _search(ops_client, "ADTN00C0FFEE") == {signed_off_job.pk}
    assert _search(ops_client, "adtn00c0ffee") == {signed_off_job.pk}
    # and, once signed off, the installation record's
    deliver(services.work_order_accept, work_order_id=signed_off_job.pk, actor=crew.ops)
    assert _search(ops_client, "ADTN00C0FFEE") == {signed_off_job.pk}


def test_work_orders_are_found_by_the_customer_of_their_orders(templates, deliver, ops_client):
    # given: two orders at connected addresses, each with its connection work order
    first, second = world(), world()
    first.customer.first_name, first.customer.last_name = "Anna", "Lindqvist"
    first.customer.save(update_fields=["first_name", "last_name"])
    for w in (first, second):
        deliver(marketplace_services.order_place, request=w.request())
    wanted = WorkOrder.objects.get(address=first.address)
    # when / then: by name, by e-mail
    assert _search(ops_client, "Anna Lindqvist") == {wanted.pk}
    assert _search(ops_client, first.customer.email.upper()) == {wanted.pk}
    assert _search(ops_client, "lindqvist") == {wanted.pk}
    page = ops_client.get(reverse("admin:workorders_workorder_change", args=[wanted.pk])).content.decode()
    assert "Anna Lindqvist" in page
    assert first.customer.email in page


def test_the_work_order_list_answers_a_search_in_few_queries(signed_off_job, ops_client, django_assert_max_num_queries):
    # given
    for _ in range(10):
        installation_work_order(street="Ekvägen")
    # when / then
    with django_assert_max_num_queries(16):
        response = ops_client.get(reverse("admin:workorders_workorder_changelist"), {"q": "Ekvägen"})
    assert len(response.context["cl"].result_list) == 11


def test_tasks_are_found_by_their_work_orders_name(signed_off_job, ops_client):
    # when
    response = ops_client.get(reverse("admin:workorders_task_changelist"), {"q": f"WO-{signed_off_job.pk}"})
    # then
    assert {task.work_order_id for task in response.context["cl"].result_list} == {signed_off_job.pk}
    assert len(response.context["cl"].result_list) == signed_off_job.tasks.count()
