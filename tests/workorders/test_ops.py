"""The operator's deployment progress page: per area, its work orders by status, cancelled ones apart, each figure
a link to the work orders it counts."""

import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from cos.choices import AddressStatus, AreaStatus
from cos.fsm import transition_apply
from cos.models import AddressObject
from tests.cos.factories import AreaFactory
from tests.workorders.factories import assign, installation_work_order, work_through
from workorders.choices import WorkOrderStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]


def _counts(row) -> dict[str, int]:
    return {s["status"]: s["count"] for s in row["statuses"] if s["count"]}


def _text(response) -> str:
    return " ".join(strip_tags(response.content.decode()).split())


def _cancelled(work_order) -> None:
    transition_apply(work_order, "cancel", reason="connected otherwise")
    work_order.save()


def test_operator_staff_see_the_progress_of_each_area(crew, client, deliver):
    # given
    north = AreaFactory(name="Norr", status=AreaStatus.IN_DEPLOYMENT)
    south = AreaFactory(name="Söder", status=AreaStatus.IN_DEPLOYMENT)
    AreaFactory(name="Väster")
    done = installation_work_order(area=north)
    assign(done, user=crew.staff_tech)
    deliver(work_through, done, crew.staff_tech)
    started = installation_work_order(area=north)
    assign(started, user=crew.staff_tech)
    work_through(started, crew.staff_tech, until=1)
    for _ in range(2):
        installation_work_order(area=north)
    for _ in range(3):
        installation_work_order(area=south)
    client.force_login(crew.ops)
    # when
    response = client.get(reverse("ops-deployment"))
    # then
    assert response.status_code == 200
    rows = {row["area"].name: row for row in response.context["rows"]}
    assert _counts(rows["Norr"]) == {
        WorkOrderStatus.ACCEPTED: 1,
        WorkOrderStatus.IN_PROGRESS: 1,
        WorkOrderStatus.CREATED: 2,
    }
    assert (rows["Norr"]["total"], rows["Norr"]["done"], rows["Norr"]["percent_done"]) == (4, 1, 25)
    assert _counts(rows["Söder"]) == {WorkOrderStatus.CREATED: 3}
    assert (rows["Väster"]["total"], _counts(rows["Väster"])) == (0, {})
    body = _text(response)
    assert "1 of 4 work orders accepted (25 %)" in body
    assert "0 of 3 work orders accepted (0 %)" in body


def test_cancelled_work_orders_are_counted_apart_not_in_the_percentage(crew, client, deliver):
    # given: an area with one accepted job, one open and two cancelled
    area = AreaFactory(name="Norr", status=AreaStatus.IN_DEPLOYMENT)
    done = installation_work_order(area=area)
    assign(done, user=crew.staff_tech)
    deliver(work_through, done, crew.staff_tech)
    installation_work_order(area=area)
    for _ in range(2):
        _cancelled(installation_work_order(area=area))
    client.force_login(crew.ops)
    # when
    response = client.get(reverse("ops-deployment"))
    # then
    (row,) = response.context["rows"]
    assert (row["total"], row["done"], row["cancelled"], row["percent_done"]) == (2, 1, 2, 50)
    assert WorkOrderStatus.CANCELLED not in {s["status"] for s in row["statuses"]}
    assert sum(float(s["width"]) for s in row["statuses"]) == pytest.approx(100)
    assert "1 of 2 work orders accepted (50 %); 2 cancelled, not counted" in _text(response)


def test_each_figure_links_to_the_work_orders_it_counts(crew, client):
    # given
    area = AreaFactory(status=AreaStatus.IN_DEPLOYMENT)
    created = installation_work_order(area=area)
    cancelled = installation_work_order(area=area)
    _cancelled(cancelled)
    installation_work_order(area=AreaFactory(status=AreaStatus.IN_DEPLOYMENT))  # another area's
    client.force_login(crew.ops)
    changelist = reverse("admin:workorders_workorder_changelist")
    # when
    body = client.get(reverse("ops-deployment")).content.decode()
    # then: the created and the cancelled figures open exactly their work orders
    for status, work_order in (("created", created), ("cancelled", cancelled)):
        url = f"{changelist}?address__area__id__exact={area.pk}&status__exact={status}"
        assert f'href="{url.replace("&", "&amp;")}"' in body, status
        listed = client.get(url).context["cl"].result_list
        assert [w.pk for w in listed] == [work_order.pk], status


def test_the_progress_page_costs_the_same_queries_for_few_or_many_areas(crew, client, django_assert_max_num_queries):
    # given
    client.force_login(crew.ops)
    installation_work_order(area=AreaFactory(status=AreaStatus.IN_DEPLOYMENT))
    with django_assert_max_num_queries(8) as baseline:
        client.get(reverse("ops-deployment"))
    for _ in range(10):
        installation_work_order(area=AreaFactory(status=AreaStatus.IN_DEPLOYMENT))
    # when / then
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        response = client.get(reverse("ops-deployment"))
    assert len(response.context["rows"]) == 11


@pytest.mark.parametrize("who", ["staff_tech", "manager", "contractor_tech"])
def test_field_people_are_sent_to_the_admin_login(crew, client, who):
    # given
    client.force_login(getattr(crew, who))
    # when
    response = client.get(reverse("ops-deployment"))
    # then
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert "next=/ops/deployment/" in response.url


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    # when
    response = client.get(reverse("ops-deployment"))
    # then
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_addresses_connected_are_shown_beside_the_jobs(crew, client, deliver):
    # given: an area of three addresses, one connected by its job, one connected another way (its job cancelled)
    area = AreaFactory(name="Syd", status=AreaStatus.IN_DEPLOYMENT)
    done = installation_work_order(area=area)
    assign(done, user=crew.staff_tech)
    deliver(work_through, done, crew.staff_tech)
    elsewhere = installation_work_order(area=area)
    AddressObject.objects.filter(pk=elsewhere.address_id).update(status=AddressStatus.CONNECTED)
    _cancelled(elsewhere)
    installation_work_order(area=area)
    client.force_login(crew.ops)
    # when
    response = client.get(reverse("ops-deployment"))
    # then: the jobs say 1 of 2, the addresses 2 of 3
    assert "1 of 2 work orders accepted (50 %); 1 cancelled, not counted" in _text(response)
    assert "2 of 3 addresses connected (67 %)" in _text(response)
