"""The technician knows whether the service is on — on a 390x844 phone, in a real browser, against the
element-manager simulator: an injected failure is shown in plain words, he taps Try again once it is fixed, and
the panel says "verified active"; a retrying activation turns to verified active on the page by itself.
Screenshots of each step go to $COS_SHOTS_DIR (tests/e2e/phone.py) for a person to look at."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from cos.choices import OrganizationKind
from cos.services import membership_grant
from marketplace import services as marketplace_services
from provisioning.choices import ServiceStatus
from provisioning.jobs import provisioning_jobs_sweep
from provisioning.models import ServiceInstance
from tests.cos.factories import ONTFactory, OrganizationFactory, UserFactory
from tests.e2e.phone import fits_the_screen, shot
from tests.marketplace.factories import world
from tests.provisioning.conftest import fault, running_simulator, simulator  # noqa: F401 - fixtures
from tests.workorders.factories import prove
from workorders import demo_data
from workorders import services as field_services
from workorders.models import WorkOrder

pytestmark = pytest.mark.django_db(transaction=True)


def _job_up_to_the_trigger(simulator):  # noqa: F811
    """Tina's connection job for an ordered Fiber 1000: the ONT is in and its light level passes."""
    demo_data.seed()
    w = world()
    marketplace_services.order_place(request=w.request())
    work_order = WorkOrder.objects.get(orders__address=w.address)
    tina = UserFactory(username="tina")
    operator = OrganizationFactory(name="Stadsnät", kind=OrganizationKind.NETWORK_OPERATOR)
    membership_grant(user=tina, organization=operator, role="technician")
    work_order.tasks.update(assigned_user=tina)
    ont = ONTFactory()
    requests.post(f"{simulator.url}/_sim/onts", json={"serial": ont.serial}, timeout=5)
    for task in work_order.tasks.filter(position__in=[1, 2]).order_by("position"):
        prove(task, tina, ont_serial=ont.serial)
        field_services.task_close(task_id=task.pk, actor=tina)
    return work_order, ServiceInstance.objects.get(address=w.address)


def _log_in_and_open_the_trigger(page, work_order) -> None:
    page.goto(page.base_url + f"/field/work-orders/{work_order.pk}/")
    page.fill("#id_username", "tina")
    page.fill("#id_password", "pw-123456")
    page.click("button[type=submit]")
    page.click(".task-row:has-text('Turn the service on')")  # the panel may name the task too
    page.wait_for_selector("#close-task")


def test_an_injected_failure_is_shown_on_the_phone_tried_again_and_verified(phone, simulator):  # noqa: F811
    # given: the element manager will refuse the activation
    work_order, service = _job_up_to_the_trigger(simulator)
    fault(simulator, kind="reject")
    page = phone
    panel = page.locator("#provisioning-status")

    # when: Tina opens "Turn the service on": nothing is asked of the network yet
    _log_in_and_open_the_trigger(page, work_order)
    expect(panel).to_contain_text("Not asked yet")
    shot(page, "1-before-the-trigger")

    # and closes it
    page.click("#close-task")
    page.wait_for_selector("h2:has-text('Tasks')")

    # then: the work order's page says, in plain words, that the service did not turn on
    expect(panel.locator(".outcome")).to_contain_text("Failed")
    expect(panel).to_contain_text("It did not turn on: the network refused it (invalid profile).")
    expect(page.locator("#provisioning-retry")).to_be_visible()
    assert fits_the_screen(page)
    shot(page, "2-failed")

    # when: the cause is fixed at the element manager and Tina taps Try again
    requests.delete(f"{simulator.url}/_sim/faults", timeout=5)
    page.click("#provisioning-retry")

    # then: verified active, with the time the ONT reported
    expect(panel.locator(".outcome")).to_contain_text("Verified active")
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    expect(panel).to_contain_text(f"Verified active at {timezone.localtime(service.activated_at):%H:%M}")
    expect(page.locator("#provisioning-retry")).to_have_count(0)
    assert fits_the_screen(page)
    shot(page, "3-verified-active")


def test_a_retrying_activation_turns_verified_on_the_page_by_itself(phone, simulator):  # noqa: F811
    # given: the element manager is busy once when Tina closes "Turn the service on"
    work_order, service = _job_up_to_the_trigger(simulator)
    fault(simulator, kind="error_5xx", times=1)
    page = phone
    panel = page.locator("#provisioning-status")
    _log_in_and_open_the_trigger(page, work_order)
    page.click("#close-task")
    page.wait_for_selector("h2:has-text('Tasks')")

    # then: retrying, with the reason and the time of the next try
    expect(panel.locator(".outcome")).to_contain_text("Retrying")
    expect(panel).to_contain_text("Attempt 1 of 6 failed because the network was busy (HTTP 503). Next try at")
    shot(page, "4-retrying")

    # when: the sweeper loop runs the next try, the page left as it is
    page.evaluate("window.notReloaded = true")
    provisioning_jobs_sweep(now=timezone.now() + timedelta(days=1))

    # then: the panel turns to verified active by itself
    expect(panel.locator(".outcome")).to_contain_text("Verified active", timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    shot(page, "5-verified-by-itself")
