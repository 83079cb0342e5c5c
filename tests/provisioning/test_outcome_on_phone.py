"""The technician always knows whether the service is on: after "Turn the service on" the phone shows each ordered
service's activation in plain words (queued, retrying with the reason and the next try, verified active, failed
with the reason), a failed activation holds the work order and offers Try again, and without a broker no retry
runs inside the technician's request. Against the element-manager simulator on loopback."""

import html
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from cos.choices import OrganizationKind
from cos.errors import ApplicationError
from cos.models import TransitionLog
from cos.services import membership_grant
from marketplace import services as marketplace_services
from provisioning.adapters.http import HttpClient
from provisioning.choices import JobAction, JobStatus, ServiceStatus
from provisioning.jobs import provisioning_jobs_sweep
from provisioning.models import ProvisioningJob, ServiceInstance
from provisioning.selectors import jobs_needing_attention, reason_in_plain_words
from tests.cos.factories import ONTFactory, OrganizationFactory, UserFactory
from tests.marketplace.factories import world
from tests.provisioning.conftest import fault
from tests.workorders.factories import prove
from workorders import demo_data
from workorders import services as field_services
from workorders.choices import TaskStatus, WorkOrderStatus
from workorders.models import WorkOrder

pytestmark = pytest.mark.django_db


@dataclass
class Job:
    work_order: WorkOrder
    tina: object  # the operator's technician, who holds every task
    ont: object
    service: ServiceInstance

    def task(self, position: int):
        return self.work_order.tasks.get(position=position)

    @property
    def trigger(self):
        return self.work_order.tasks.get(triggers_provisioning=True)


@pytest.fixture
def job(simulator, django_capture_on_commit_callbacks) -> Job:
    """A connection job for an accepted internet order (ONT, light level, Turn the service on, speed test,
    sign-off), every task Tina's; the ONT she installs is one the element manager knows."""
    demo_data.seed()
    w = world()
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.order_place(request=w.request())
    work_order = WorkOrder.objects.get(orders__address=w.address)
    tina = UserFactory(username="tina")
    membership_grant(
        user=tina, organization=OrganizationFactory(kind=OrganizationKind.NETWORK_OPERATOR), role="technician"
    )
    work_order.tasks.update(assigned_user=tina)
    ont = ONTFactory()
    requests.post(f"{simulator.url}/_sim/onts", json={"serial": ont.serial}, timeout=5)
    return Job(work_order, tina, ont, ServiceInstance.objects.get(address=w.address))


def _up_to_the_trigger(job: Job) -> None:
    for position in (1, 2):
        prove(job.task(position), job.tina, ont_serial=job.ont.serial)
        field_services.task_close(task_id=job.task(position).pk, actor=job.tina)


def _close_on_the_phone(client, task, capture):
    """The technician taps Close task; what the request does after its commit runs inside the block too."""
    with capture(execute=True):
        return client.post(reverse("field-task", args=[task.pk]), {"action": "close"})


def _panel(client, job: Job, **params) -> str:
    response = client.get(reverse("field-provisioning", args=[job.work_order.pk]), params)
    assert response.status_code == 200
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def _sweep_later(capture) -> int:
    with capture(execute=True):
        return provisioning_jobs_sweep(now=timezone.now() + timedelta(days=1))


def _adapter_calls(monkeypatch) -> list:
    calls = []
    real = HttpClient.call

    def counted(self, method, path, **kwargs):
        calls.append((method, path))
        return real(self, method, path, **kwargs)

    monkeypatch.setattr(HttpClient, "call", counted)
    return calls


def test_a_timeout_costs_the_technicians_request_one_call_and_the_sweep_verifies_it_later(
    job, simulator, client, monkeypatch, django_capture_on_commit_callbacks
):
    # given: the element manager does not answer once (no broker: eager Celery, as in `make run`)
    _up_to_the_trigger(job)
    fault(simulator, kind="timeout", delay=1.0, times=1)
    calls = _adapter_calls(monkeypatch)
    client.force_login(job.tina)
    # when: Tina closes "Turn the service on"
    response = _close_on_the_phone(client, job.trigger, django_capture_on_commit_callbacks)
    # then: the request made one call to the element manager and left the next try to the sweep
    assert response.status_code == 302
    assert len(calls) == 1
    activation = ProvisioningJob.objects.get(service=job.service)
    assert (activation.status, activation.attempts) == (JobStatus.FAILED, 1)
    assert activation.next_attempt_at > timezone.now() - timedelta(seconds=1)
    panel = _panel(client, job)
    assert "Retrying" in panel
    assert "Attempt 1 of 6 failed because the network did not answer in time" in panel
    assert f"Next try at {timezone.localtime(activation.next_attempt_at):%H:%M}" in panel
    # when: the sweeper loop runs after the retry time
    assert _sweep_later(django_capture_on_commit_callbacks) == 1
    # then: verified by read-back, and the phone says so
    job.service.refresh_from_db()
    assert job.service.status == ServiceStatus.ACTIVE
    assert f"Verified active at {timezone.localtime(job.service.activated_at):%H:%M}" in _panel(client, job)


def test_a_refused_activation_shows_failed_with_the_reason_and_try_again(
    job, simulator, client, django_capture_on_commit_callbacks
):
    # given: the element manager rejects the activation
    _up_to_the_trigger(job)
    fault(simulator, kind="reject")
    client.force_login(job.tina)
    # when
    _close_on_the_phone(client, job.trigger, django_capture_on_commit_callbacks)
    # then
    assert ProvisioningJob.objects.get(service=job.service).status == JobStatus.DEAD
    panel = _panel(client, job)
    assert 'data-state="failed"' in panel
    assert "It did not turn on: the network refused it (invalid profile)." in panel
    assert 'id="provisioning-retry"' in panel
    assert "every 3s" not in panel  # settled: the panel stops asking


def test_a_dead_activation_holds_the_work_order_until_it_is_tried_again_and_verified(
    job, simulator, client, django_capture_on_commit_callbacks
):
    # given: the activation died; Tina does the speed test and the customer signs
    _up_to_the_trigger(job)
    fault(simulator, kind="reject")
    client.force_login(job.tina)
    _close_on_the_phone(client, job.trigger, django_capture_on_commit_callbacks)
    prove(job.task(4), job.tina)
    field_services.task_close(task_id=job.task(4).pk, actor=job.tina)
    sign_off = job.task(5)
    prove(sign_off, job.tina)
    # when: she closes the last task
    response = _close_on_the_phone(client, sign_off, django_capture_on_commit_callbacks)
    # then: refused in plain words; the task stays open and the work order in progress
    assert response.status_code == 400
    page = re.sub(r"\s+", " ", response.content.decode())
    assert "did not turn on: the network refused it (invalid profile). Fix the cause and tap Try again" in page
    with pytest.raises(ApplicationError) as refused:
        field_services.task_close(task_id=sign_off.pk, actor=job.tina)
    assert refused.value.code == "activation_failed"
    assert job.task(5).status == TaskStatus.OPEN
    job.work_order.refresh_from_db()
    assert job.work_order.status == WorkOrderStatus.IN_PROGRESS
    # when: the cause is fixed and she taps Try again on the work order
    requests.delete(f"{simulator.url}/_sim/faults", timeout=5)
    page_url = reverse("field-work-order", args=[job.work_order.pk])
    with django_capture_on_commit_callbacks(execute=True):
        retried = client.post(reverse("field-provisioning", args=[job.work_order.pk]), {"next": page_url})
    # then: back on the page, verified active, the retry on record with who asked
    assert (retried.status_code, retried.url) == (302, page_url)
    job.service.refresh_from_db()
    assert job.service.status == ServiceStatus.ACTIVE
    log = TransitionLog.objects.get(content_type__model="provisioningjob", transition="requeue")
    assert (log.actor, log.reason) == (job.tina, "tried again from the field by tina")
    # and the work order completes
    _close_on_the_phone(client, sign_off, django_capture_on_commit_callbacks)
    job.work_order.refresh_from_db()
    assert job.work_order.status == WorkOrderStatus.ACCEPTED


def test_try_again_is_for_the_technician_of_the_provisioning_task_or_operator_staff(
    job, simulator, client, django_capture_on_commit_callbacks
):
    # given: a dead activation; Carl (a contractor) holds only the ONT task, Rita works elsewhere
    _up_to_the_trigger(job)
    fault(simulator, kind="reject")
    with django_capture_on_commit_callbacks(execute=True):
        field_services.task_close(task_id=job.trigger.pk, actor=job.tina)
    requests.delete(f"{simulator.url}/_sim/faults", timeout=5)
    carl, rita, olle = UserFactory(username="carl"), UserFactory(username="rita"), UserFactory(username="olle")
    membership_grant(user=carl, organization=OrganizationFactory(kind=OrganizationKind.CONTRACTOR), role="technician")
    membership_grant(user=rita, organization=OrganizationFactory(kind=OrganizationKind.CONTRACTOR), role="technician")
    operator = OrganizationFactory(kind=OrganizationKind.NETWORK_OPERATOR)
    membership_grant(user=olle, organization=operator, role="operations")
    job.work_order.tasks.filter(position=1).update(assigned_user=carl)
    url = reverse("field-provisioning", args=[job.work_order.pk])
    activation = ProvisioningJob.objects.get(service=job.service)
    # when: Carl sees the panel without the button, and posts anyway
    client.force_login(carl)
    assert 'id="provisioning-retry"' not in _panel(client, job)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    # then: refused with a message, nothing changed
    assert "Only the technician who holds the provisioning task" in response.content.decode()
    activation.refresh_from_db()
    assert activation.status == JobStatus.DEAD
    # when: Rita, who has no task here
    client.force_login(rita)
    # then
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    activation.refresh_from_db()
    assert activation.status == JobStatus.DEAD
    # when: operations try again
    client.force_login(olle)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    # then
    activation.refresh_from_db()
    assert activation.status == JobStatus.SUCCEEDED


def test_try_again_with_nothing_failed_says_so(job, client, django_capture_on_commit_callbacks):
    # given: nothing asked of the network yet
    client.force_login(job.tina)
    # when
    response = client.post(reverse("field-provisioning", args=[job.work_order.pk]), follow=True)
    # then
    assert "nothing to try again" in response.content.decode()
    assert not ProvisioningJob.objects.exists()


def test_a_retrying_activation_runs_at_once_on_try_again(job, simulator, client, django_capture_on_commit_callbacks):
    # given: an activation waiting for its next try after a busy element manager
    _up_to_the_trigger(job)
    fault(simulator, kind="error_5xx", times=1)
    client.force_login(job.tina)
    _close_on_the_phone(client, job.trigger, django_capture_on_commit_callbacks)
    assert "the network was busy (HTTP 503)" in _panel(client, job)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("field-provisioning", args=[job.work_order.pk]))
    # then
    job.service.refresh_from_db()
    assert job.service.status == ServiceStatus.ACTIVE
    assert ProvisioningJob.objects.get(service=job.service).attempts == 2


def test_the_panel_keeps_asking_only_while_the_network_is_at_it(job, client):
    # given: an activation queued (a broker delivers it), then running
    client.force_login(job.tina)
    activation = ProvisioningJob.objects.create(service=job.service, action=JobAction.ACTIVATE)
    # then
    panel = _panel(client, job)
    assert "Queued: the network is about to turn it on." in panel
    assert 'hx-trigger="every 3s"' in panel
    # when
    activation.run(at=timezone.now())
    activation.save()
    # then
    panel = _panel(client, job)
    assert "The network is turning it on now (attempt 1)." in panel
    assert 'hx-trigger="every 3s"' in panel


def test_before_the_trigger_only_its_task_and_the_work_order_say_not_asked_yet(job, client):
    client.force_login(job.tina)
    # when: the panel of the work order, of the provisioning task, and of the ONT task
    on_work_order = _panel(client, job)
    on_trigger = _panel(client, job, task=job.trigger.pk)
    on_ont_task = _panel(client, job, task=job.task(1).pk)
    # then
    assert "Not asked yet: closing “Turn the service on” asks the network to turn it on." in on_work_order
    assert "Not asked yet" in on_trigger
    assert "Not asked yet" not in on_ont_task
    assert "every 3s" not in on_work_order


def test_the_pages_load_the_panel_by_themselves(job, client):
    client.force_login(job.tina)
    # when
    work_order_page = client.get(reverse("field-work-order", args=[job.work_order.pk])).content.decode()
    task_page = client.get(reverse("field-task", args=[job.trigger.pk])).content.decode()
    # then: each page asks for the panel as it loads, naming itself to come back to after Try again
    panel_url = reverse("field-provisioning", args=[job.work_order.pk])
    assert f'hx-get="{panel_url}?next=/field/work-orders/{job.work_order.pk}/"' in work_order_page
    assert f'hx-get="{panel_url}?next=/field/tasks/{job.trigger.pk}/&amp;task={job.trigger.pk}"' in task_page


def test_the_panel_costs_the_same_few_queries_however_many_services(
    job, client, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    # given: besides its own order, the work order carries three orders of internet and TV
    for _ in range(3):
        w = world()
        with django_capture_on_commit_callbacks(execute=True):
            order, _ = marketplace_services.order_place(request=w.request(w.internet, w.tv))
        job.work_order.orders.add(order)
    client.force_login(job.tina)
    # when / then
    with django_assert_max_num_queries(10):
        panel = _panel(client, job)
    assert panel.count('class="outcome"') == 7


def test_the_operators_queue_lists_dead_and_repeatedly_failing_jobs(job):
    # given: a dead job, a job failing its second time, one failing once, and a dead job tried again since
    now = timezone.now()
    dead = ProvisioningJob.objects.create(service=job.service, action=JobAction.DEACTIVATE)
    dead.run(at=now)
    dead.give_up(at=now, reason="HTTP 422")
    dead.save()
    failing = ProvisioningJob.objects.create(service=job.service, action=JobAction.MODIFY)
    for _ in range(2):
        failing.run(at=now)
        failing.fail(retry_at=now, reason="Timeout")
    failing.save()
    once = ProvisioningJob.objects.create(service=job.service, action=JobAction.SUSPEND)
    once.run(at=now)
    once.fail(retry_at=now, reason="Timeout")
    once.save()
    replaced = ProvisioningJob.objects.create(service=job.service, action=JobAction.ACTIVATE)
    replaced.run(at=now)
    replaced.give_up(at=now, reason="HTTP 422")
    replaced.save()
    ProvisioningJob.objects.create(service=job.service, action=JobAction.ACTIVATE)  # the trigger closed again
    # when
    queue = list(jobs_needing_attention())
    # then
    assert queue == [dead, failing]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("PUT /adtran/onts/X/services/cos-1: Timeout", "the network did not answer in time"),
        ("GET /nokia/onu: ConnectionError", "the network could not be reached"),
        ("PUT /calix/x: HTTP 503", "the network was busy (HTTP 503)"),
        ('PUT /adtran/x: HTTP 422 {"error": "invalid profile"}', "the network refused it (invalid profile)"),
        ("Adtran does not know ONT ADTN0000002A", "the network does not know ONT ADTN0000002A: check the serial"),
        ("applied, but the device reads back differently from the contract", "the ONT reads back other settings"),
        ("No ONT is bound to this address: the technician scans its serial.", "no ONT is bound to this address"),
        ("ONT ADTN1 is on no PON port in the inventory.", "ONT ADTN1 is on no PON port in the inventory"),
    ],
)
def test_reasons_read_in_plain_words(error, words):
    assert reason_in_plain_words(error).startswith(words)
    assert not reason_in_plain_words(error).endswith(".")


def test_a_job_with_nothing_ordered_says_there_is_nothing_to_turn_on(client):
    # given: an installation at an address where nobody has ordered yet (an area being built)
    from cos.services import membership_grant as grant
    from workorders.models import WorkOrderTemplate

    demo_data.seed()
    template = WorkOrderTemplate.objects.filter(task_templates__triggers_provisioning=True).first()
    work_order = field_services.work_order_create(address=world().address, template=template)
    tom = UserFactory(username="tom")
    grant(user=tom, organization=OrganizationFactory(kind=OrganizationKind.NETWORK_OPERATOR), role="technician")
    work_order.tasks.update(assigned_user=tom)
    trigger = work_order.tasks.get(triggers_provisioning=True)
    client.force_login(tom)
    # when
    on_trigger = client.get(
        reverse("field-provisioning", args=[work_order.pk]), {"task": trigger.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    on_other_task = client.get(
        reverse("field-provisioning", args=[work_order.pk]), {"task": work_order.tasks.get(position=1).pk}
    ).content.decode()
    # then: the technician is told, where it matters, that there is no service to turn on
    assert "No service is ordered at this address yet" in on_trigger
    assert "No service is ordered" not in on_other_task
