"""The demo world feeds every queue of the operator's console, made by seed_demo through the real services and the
simulator; each item leads where the README's operator walk-through says, and loading the demo again adds none."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from cos import events
from cos.choices import HandlerRunStatus
from cos.selectors import handler_runs_needing_attention
from marketplace.models import Subscription
from provisioning.choices import ExceptionKind, JobStatus, ServiceStatus
from provisioning.jobs import provisioning_job_retry
from provisioning.selectors import contract_exceptions_open, jobs_needing_attention
from tests.provisioning.conftest import running_simulator, simulator  # noqa: F401 - fixtures
from workorders import demo_data as field_demo
from workorders.choices import TaskStatus, WorkOrderKind, WorkOrderStatus
from workorders.models import FieldNotice, WorkOrder, WorkOrderTemplate
from workorders.selectors import tasks_skipped_with_reason, work_orders_awaiting_sign_off, work_orders_rejected

pytestmark = pytest.mark.django_db(transaction=True)


def _queues() -> dict[str, list[int]]:
    return {
        "awaiting sign-off": sorted(work_orders_awaiting_sign_off().values_list("pk", flat=True)),
        "rejected": sorted(work_orders_rejected().values_list("pk", flat=True)),
        "skipped with a reason": sorted(tasks_skipped_with_reason().values_list("pk", flat=True)),
        "provisioning jobs": sorted(jobs_needing_attention().values_list("pk", flat=True)),
        "handler runs": sorted(handler_runs_needing_attention().values_list("pk", flat=True)),
        "contract exceptions": sorted(contract_exceptions_open().values_list("pk", flat=True)),
    }


@pytest.fixture
def demo(simulator, capsys):  # noqa: F811
    simulator.state.auto_discover = True  # as make run starts it
    call_command("seed_demo", addresses=80)
    return capsys.readouterr().out


def test_the_demo_has_an_item_in_every_console_queue(demo):
    # then: one item of each kind
    queues = _queues()
    assert {name: len(ids) for name, ids in queues.items()} == dict.fromkeys(queues, 1)
    # a job done partly by the contractor waits for sign-off, its speed test skipped with the reason
    (signing,) = work_orders_awaiting_sign_off()
    assert signing.tasks.filter(completed_by_organization__slug="gravteam").count() == 2
    (skipped,) = tasks_skipped_with_reason()
    assert (skipped.work_order_id, skipped.skip_reason) == (signing.pk, field_demo.SKIPPED_SPEED_TEST)
    # a rejected one is back in the field: the entry reopened with the reason, its technician told
    (rejected,) = work_orders_rejected()
    assert (rejected.status, rejected.rejection_reason) == (WorkOrderStatus.IN_PROGRESS, field_demo.REJECTION)
    (redo,) = rejected.tasks.filter(status=TaskStatus.OPEN)
    assert (redo.position, redo.redo_reason, redo.assigned_user.username) == (
        2,
        field_demo.REJECTION,
        "contractor-tech",
    )
    assert FieldNotice.objects.filter(work_order=rejected, recipient__username="contractor-tech").exists()
    # the element manager refused Lena's activation: a dead job, a failed service
    (job,) = jobs_needing_attention()
    assert job.status == JobStatus.DEAD
    assert job.service.status == ServiceStatus.FAILED
    assert job.service.subscription.customer.user.username == "lena"
    # Sofia's order got no work order: the handler gave up while the connection template was off
    (run,) = handler_runs_needing_attention()
    assert run.status == HandlerRunStatus.DEAD
    assert "No active connection work-order template" in run.last_error
    assert WorkOrderTemplate.objects.get(code="connection").is_active
    # a test service left on Maria's former ONT
    (exception,) = contract_exceptions_open()
    assert exception.kind == ExceptionKind.ACTIVATION_WITHOUT_ORDER
    assert exception.device_service_id == "fieldtest-1"
    # and make run prints where to look
    assert "Operator's console (/ops/" in demo
    assert "lena" in demo
    assert "sofia" in demo


def test_the_console_items_are_resolved_as_the_walk_through_says(demo):
    ops = get_user_model().objects.get(username="ops")
    # when: the operator retries Lena's job (the fault was once) and Sofia's handler run (the template is back)
    (job,) = jobs_needing_attention()
    (run,) = handler_runs_needing_attention()
    provisioning_job_retry(job_id=job.pk, actor=ops)
    events.handler_run_requeue(run_id=run.pk, actor=ops)
    # then
    assert Subscription.objects.get(customer__user__username="lena").status == "active"
    run.refresh_from_db()
    assert run.status == HandlerRunStatus.SUCCEEDED
    assert WorkOrder.objects.filter(orders__customer__user__username="sofia", kind=WorkOrderKind.CONNECTION).exists()
    assert not jobs_needing_attention().exists()
    assert not handler_runs_needing_attention().exists()


def test_loading_the_demo_again_adds_no_queue_item(demo):
    # given
    before = _queues()
    # when
    call_command("seed_demo", addresses=80)
    # then
    assert _queues() == before
