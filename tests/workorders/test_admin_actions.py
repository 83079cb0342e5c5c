"""Operator actions in the admin that ask for input first: assign tasks, reject a job."""

import pytest

from cos.choices import AddressStatus
from tests.cos.factories import AddressFactory, OrganizationFactory
from tests.workorders.factories import installation_work_order
from workorders import demo_data

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
