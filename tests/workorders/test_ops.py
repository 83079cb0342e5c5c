"""The operator's deployment progress page: per area, its work orders by status."""

import pytest
from django.urls import reverse

from cos.choices import AreaStatus
from tests.cos.factories import AreaFactory
from tests.workorders.factories import assign, installation_work_order, work_through
from workorders.choices import WorkOrderStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]


def _counts(row) -> dict[str, int]:
    return {s["status"]: s["count"] for s in row["statuses"] if s["count"]}


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
    body = response.content.decode()
    assert "1 of 4 work orders accepted (25 %)" in body
    assert "0 of 3 work orders accepted (0 %)" in body


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
