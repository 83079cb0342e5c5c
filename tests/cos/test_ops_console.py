"""The operator's console (/ops/): each attention queue counts exactly what needs someone and links to a list of
exactly those items; its cost does not grow with the number of items; only the operator's staff read it."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from cos import events, ops
from cos.choices import HandlerRunStatus, OrganizationKind
from cos.fsm import transition_apply
from cos.models import HandlerRun
from cos.services import membership_grant
from marketplace import services as marketplace_services
from provisioning.choices import ExceptionKind, JobAction, JobStatus
from provisioning.models import ContractException, ProvisioningJob, ServiceInstance
from provisioning.sync import contract_exception_resolve
from tests.cos import handlers_for_tests
from tests.cos.factories import OrganizationFactory, UserFactory
from tests.marketplace.factories import world
from tests.workorders import conftest as field_fixtures
from tests.workorders.factories import assign, installation_work_order, task_at, work_through
from workorders import services as field_services
from workorders.choices import TaskStatus, WorkOrderStatus

pytestmark = pytest.mark.django_db

# The field tests' people, templates and event delivery, as fixtures here too.
crew, deliver, templates = field_fixtures.crew, field_fixtures.deliver, field_fixtures.templates

FLAKY = "tests.cos.handlers_for_tests.flaky"
CONSOLE = "/ops/"


@dataclass
class Attention:
    """One item (or two) of every kind the console counts, each beside one of the same kind that must not count."""

    awaiting_sign_off: object
    rejected: object
    skipped: object
    dead_job: object
    failing_job: object
    failed_run: object
    dead_run: object
    open_exception: object

    def expected(self) -> dict[str, set[int]]:
        return {
            "work_orders_awaiting_sign_off": {self.awaiting_sign_off.pk},
            "work_orders_rejected": {self.rejected.pk},
            "tasks_skipped_with_reason": {self.skipped.pk},
            "provisioning_jobs_failing": {self.dead_job.pk, self.failing_job.pk},
            "handler_runs_failing": {self.failed_run.pk, self.dead_run.pk},
            "contract_exceptions_open": {self.open_exception.pk},
        }


def _shared_job(crew, deliver, *, completed: bool = True):
    """An installation whose first two steps are the contractor's and the rest the operator's technician's."""
    work_order = installation_work_order()
    assign(work_order, user=crew.contractor_tech, organization=crew.contractor, positions=[1, 2])
    assign(work_order, user=crew.staff_tech, positions=[3, 4, 5, 6, 7, 8])
    deliver(work_through, work_order, crew.contractor_tech, until=2)
    if completed:
        deliver(work_through, work_order, crew.staff_tech)
    work_order.refresh_from_db()
    return work_order


def _staff_job(crew, deliver, *, skip_at: int | None = None, finish: bool = True):
    """An installation by the operator's technician alone (accepted at once when finished), a step skipped."""
    work_order = installation_work_order()
    assign(work_order, user=crew.staff_tech)
    skipped = None
    if skip_at is not None:
        skipped = field_services.task_skip(
            task_id=task_at(work_order, skip_at).pk, actor=crew.staff_tech, reason="Wall box already in place"
        )
    if finish:
        deliver(work_through, work_order, crew.staff_tech)
    work_order.refresh_from_db()
    return work_order, skipped


def _job(service, *, status: str, attempts: int) -> ProvisioningJob:
    """A provisioning job taken through its transitions to `status` after `attempts` runs."""
    job = ProvisioningJob.objects.create(service=service, action=JobAction.ACTIVATE)
    now = timezone.now()
    for attempt in range(1, attempts + 1):
        transition_apply(job, "run", at=now)
        if status == JobStatus.SUCCEEDED and attempt == attempts:
            transition_apply(job, "succeed", at=now)
        elif status == JobStatus.DEAD and attempt == attempts:
            transition_apply(job, "give_up", at=now, reason="The element manager refused the profile.")
        else:
            transition_apply(job, "fail", retry_at=now + timedelta(minutes=5), reason="Timeout")
    job.save()
    return job


def _handler_runs(django_capture_on_commit_callbacks, settings) -> tuple[HandlerRun, HandlerRun, HandlerRun]:
    """Through the outbox: a run that failed once (retrying), one that gave up, and one that succeeded."""
    events.handler("test.console")(handlers_for_tests.flaky)
    try:
        handlers_for_tests.calls.clear()
        handlers_for_tests.failures_left["count"] = 1
        with django_capture_on_commit_callbacks(execute=True):
            failed = events.publish("test.console", n=1)
        settings.EVENTS_MAX_ATTEMPTS = 1
        handlers_for_tests.failures_left["count"] = 1
        with django_capture_on_commit_callbacks(execute=True):
            dead = events.publish("test.console", n=2)
        with django_capture_on_commit_callbacks(execute=True):
            succeeded = events.publish("test.console", n=3)
    finally:
        events.unregister("test.console", FLAKY)
    return tuple(HandlerRun.objects.get(event=event) for event in (failed, dead, succeeded))


def _service(deliver) -> ServiceInstance:
    w = world()
    deliver(marketplace_services.order_place, request=w.request())
    return ServiceInstance.objects.get(address=w.address)


def _exception(serial: str) -> ContractException:
    return ContractException.objects.create(
        kind=ExceptionKind.BILLED_INACTIVE,
        severity="red",
        ont_serial=serial,
        detail="Subscription active, the ONT has no such service.",
        last_seen_at=timezone.now(),
    )


@pytest.fixture
def attention(crew, deliver, templates, django_capture_on_commit_callbacks, settings) -> Attention:
    awaiting = _shared_job(crew, deliver)
    assert awaiting.status == WorkOrderStatus.COMPLETED
    rejected = _shared_job(crew, deliver)
    field_services.work_order_reject(
        work_order_id=rejected.pk, actor=crew.ops, reason="Entry not sealed", task_ids=[task_at(rejected, 2).pk]
    )
    _shared_job(crew, deliver, completed=False)  # contractor work, not finished: nothing to sign off yet
    accepted = _shared_job(crew, deliver)
    deliver(field_services.work_order_accept, work_order_id=accepted.pk, actor=crew.ops)
    _, skipped = _staff_job(crew, deliver, skip_at=2, finish=False)
    _staff_job(crew, deliver, skip_at=2)  # skipped on a job accepted since: nothing to check any more
    dead_job = _job(_service(deliver), status=JobStatus.DEAD, attempts=1)
    failing_job = _job(_service(deliver), status=JobStatus.FAILED, attempts=2)
    _job(_service(deliver), status=JobStatus.FAILED, attempts=1)  # a first failure retries by itself
    _job(_service(deliver), status=JobStatus.SUCCEEDED, attempts=2)
    failed_run, dead_run, succeeded_run = _handler_runs(django_capture_on_commit_callbacks, settings)
    assert (failed_run.status, dead_run.status, succeeded_run.status) == (
        HandlerRunStatus.FAILED,
        HandlerRunStatus.DEAD,
        HandlerRunStatus.SUCCEEDED,
    )
    open_exception = _exception("ADTN00000001")
    resolved = _exception("ADTN00000002")
    contract_exception_resolve(exception_id=resolved.pk, code="false_positive", actor=crew.ops, note="")
    return Attention(awaiting, rejected, skipped, dead_job, failing_job, failed_run, dead_run, open_exception)


def _queues(response) -> dict[str, ops.QueueRow]:
    return {row.queue.key: row for row in response.context["queues"]}


def _text(html: str) -> str:
    return " ".join(strip_tags(html).split())


def _listed(client, url: str) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, url
    return {obj.pk for obj in response.context["cl"].result_list}


def test_each_queue_counts_its_items_and_links_to_a_list_of_exactly_them(attention, crew, client):
    # given
    client.force_login(crew.ops)
    expected = attention.expected()
    # when
    response = client.get(CONSOLE)
    # then: the counts
    assert response.status_code == 200
    queues = _queues(response)
    assert {key: row.count for key, row in queues.items()} == {key: len(pks) for key, pks in expected.items()}
    # and each link lists exactly the items counted
    for key, pks in expected.items():
        assert queues[key].url, key
        assert _listed(client, queues[key].url) == pks, key
    body = response.content.decode()
    assert 'id="queue-work_orders_awaiting_sign_off"' in body
    assert f'href="{queues["contract_exceptions_open"].url.replace("&", "&amp;")}"' in body


def test_a_queue_empties_once_its_item_is_dealt_with(attention, crew, client, django_capture_on_commit_callbacks):
    # given
    client.force_login(crew.ops)
    # when: the operator signs off the job that waited
    with django_capture_on_commit_callbacks(execute=True):
        field_services.work_order_accept(work_order_id=attention.awaiting_sign_off.pk, actor=crew.ops)
    # then
    queues = _queues(client.get(CONSOLE))
    assert queues["work_orders_awaiting_sign_off"].count == 0
    assert _listed(client, queues["work_orders_awaiting_sign_off"].url) == set()


def test_the_console_costs_the_same_queries_with_many_items(
    crew,
    deliver,
    templates,
    client,
    django_assert_max_num_queries,
):
    # given: one item of a kind, then many of every kind
    client.force_login(crew.ops)
    _shared_job(crew, deliver)
    _job(_service(deliver), status=JobStatus.DEAD, attempts=1)
    _exception("ADTN00000010")
    with django_assert_max_num_queries(30) as baseline:
        client.get(CONSOLE)
    for _ in range(4):
        _shared_job(crew, deliver)
        _staff_job(crew, deliver, skip_at=2, finish=False)
    for n in range(8):
        _job(_service(deliver), status=JobStatus.DEAD, attempts=1)
        _exception(f"ADTN{n + 100:08X}")
    # when / then
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        response = client.get(CONSOLE)
    queues = _queues(response)
    assert queues["work_orders_awaiting_sign_off"].count == 5
    assert queues["provisioning_jobs_failing"].count == 9
    assert queues["contract_exceptions_open"].count == 9
    assert queues["tasks_skipped_with_reason"].count == 4


def test_deployment_progress_on_the_console_links_each_figure_to_its_work_orders(crew, deliver, templates, client):
    # given: an area with an accepted job, an open one and a cancelled one
    accepted, _ = _staff_job(crew, deliver)
    area = accepted.address.area
    open_job = installation_work_order(area=area)
    cancelled = installation_work_order(area=area)
    transition_apply(cancelled, "cancel", reason="connected otherwise")
    cancelled.save()
    client.force_login(crew.ops)
    # when
    response = client.get(CONSOLE)
    # then: the cancelled job is counted apart, and each figure opens its work orders
    body = response.content.decode()
    assert "1 of 2 work orders accepted (50 %); 1 cancelled, not counted" in _text(body)
    changelist = reverse("admin:workorders_workorder_changelist")
    for status, work_order in (("accepted", accepted), ("created", open_job), ("cancelled", cancelled)):
        url = f"{changelist}?address__area__id__exact={area.pk}&status__exact={status}"
        assert f'href="{url.replace("&", "&amp;")}"' in body, status
        assert _listed(client, url) == {work_order.pk}


def test_the_console_links_into_the_admins_main_sections(crew, client):
    # given
    client.force_login(crew.ops)
    # when
    response = client.get(CONSOLE)
    # then
    links = {link["label"]: link["url"] for section in response.context["main_sections"] for link in section["links"]}
    assert links["Work orders"] == reverse("admin:workorders_workorder_changelist")
    assert links["Provisioning jobs"] == reverse("admin:provisioning_provisioningjob_changelist")
    assert links["Invoices"] == reverse("admin:billing_invoice_changelist")
    assert reverse("admin:workorders_workorder_changelist") in response.content.decode()


def test_finance_reads_the_console_and_follows_only_the_links_its_role_may_view(attention, crew, client):
    # given
    finance = UserFactory(username="fia-finance")
    membership_grant(user=finance, organization=crew.operator, role="finance")
    client.force_login(finance)
    # when
    response = client.get(CONSOLE)
    # then: every count, links only into what finance may view
    assert response.status_code == 200
    queues = _queues(response)
    assert queues["contract_exceptions_open"].count == 1
    assert queues["contract_exceptions_open"].url
    assert queues["work_orders_awaiting_sign_off"].count == 1
    assert queues["work_orders_awaiting_sign_off"].url == ""
    assert "Your role does not view work orders in the admin." in response.content.decode()
    labels = {link["label"] for section in response.context["main_sections"] for link in section["links"]}
    assert "Invoices" in labels
    assert "Work orders" not in labels


@pytest.mark.parametrize("who", ["staff_tech", "manager", "contractor_tech"])
def test_field_people_are_sent_to_the_admin_login(crew, client, who):
    # given
    client.force_login(getattr(crew, who))
    # when
    response = client.get(CONSOLE)
    # then
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_staff_of_another_organization_are_refused_with_a_page_that_says_why(client):
    # given: a contractor's manager someone made staff by hand
    contractor = OrganizationFactory(kind=OrganizationKind.CONTRACTOR)
    someone = UserFactory(username="kim-contractor")
    membership_grant(user=someone, organization=contractor, role="field_manager")
    someone.is_staff = True
    someone.save(update_fields=["is_staff"])
    client.force_login(someone)
    # when
    response = client.get(CONSOLE)
    # then
    assert response.status_code == 403
    assert "is for the network operator's staff" in response.content.decode()
    assert "queues" not in response.context


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    # when
    response = client.get(CONSOLE)
    # then
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert "next=/ops/" in response.url


def test_a_skipped_task_queue_leads_to_the_task_and_its_reason(attention, crew, client):
    # given
    client.force_login(crew.ops)
    url = _queues(client.get(CONSOLE))["tasks_skipped_with_reason"].url
    # when
    response = client.get(url)
    # then
    assert attention.skipped.status == TaskStatus.SKIPPED
    assert "Wall box already in place" in response.content.decode()
