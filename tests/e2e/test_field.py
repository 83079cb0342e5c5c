"""A technician on a phone works a job through to the provisioning trigger — in a real browser."""

import pytest
from PIL import Image

from cos.choices import AddressStatus, AreaStatus, OrganizationKind
from cos.models import ONT, Event
from cos.services import membership_grant
from tests.cos.factories import AddressFactory, AreaFactory, ONTFactory, OrganizationFactory, UserFactory
from workorders import demo_data
from workorders.batch import work_orders_create_chunk
from workorders.choices import TaskStatus
from workorders.models import Task, WorkOrder

pytestmark = pytest.mark.django_db(transaction=True)


def _photo(path):
    Image.new("RGB", (640, 480), (30, 120, 200)).save(path, format="JPEG")
    return str(path)


def _open_task(page, title):
    page.click(f"text={title}")
    page.wait_for_selector("#close-task")


def _close(page):
    page.click("#close-task")
    page.wait_for_selector("text=Tasks")


def test_technician_closes_tasks_through_the_provisioning_trigger(browser_page, tmp_path):
    # given: a job at an address in deployment, every task assigned to the technician, a spare ONT
    demo_data.seed()
    area = AreaFactory(status=AreaStatus.IN_DEPLOYMENT)
    address = AddressFactory(area=area, status=AddressStatus.IN_DEPLOYMENT, street="Solvägen", house_number=3)
    work_orders_create_chunk(area_id=area.pk, first_id=address.pk, last_id=address.pk)
    work_order = WorkOrder.objects.get(address=address)
    technician = UserFactory(username="tina")
    membership_grant(
        user=technician, organization=OrganizationFactory(kind=OrganizationKind.NETWORK_OPERATOR), role="technician"
    )
    work_order.tasks.update(assigned_user=technician)
    ont = ONTFactory(serial="ADTN00C0FFEE")
    photo = _photo(tmp_path / "drop.jpg")
    page = browser_page

    # when: the technician logs in on the phone and opens the job
    page.goto(page.base_url + "/field/")
    page.fill("#id_username", "tina")
    page.fill("#id_password", "pw-123456")
    page.click("button[type=submit]")
    page.click("text=Solvägen 3")
    page.wait_for_selector("text=Tasks")

    # the two physical steps, each with a photo
    for title in ("Drop from the distribution point", "Building entry and wall box"):
        _open_task(page, title)
        page.set_input_files("#form-photo input[type=file]", photo)
        page.click("#form-photo button[type=submit]")
        page.wait_for_selector(".thumbs img")
        _close(page)

    # the ONT: serial scanned and a photo
    _open_task(page, "Mount the ONT and cable it")
    page.fill("#id_ont_serial", "adtn00c0ffee")
    page.click("#form-ont_serial button[type=submit]")
    page.wait_for_selector("text=ONT serial recorded")
    page.set_input_files("#form-photo input[type=file]", photo)
    page.click("#form-photo button[type=submit]")
    page.wait_for_selector(".thumbs img")
    _close(page)

    # the light level, then the provisioning trigger
    _open_task(page, "Light level at the ONT")
    page.fill("#id_light_level_dbm", "-19.5")
    page.click("#form-light_level button[type=submit]")
    page.wait_for_selector("text=pass")
    _close(page)
    _open_task(page, "Turn the service on")
    _close(page)

    # then: five tasks done in order, the ONT bound here, provisioning requested once
    done = list(Task.objects.filter(work_order=work_order, status=TaskStatus.DONE).values_list("position", flat=True))
    assert sorted(done) == [1, 2, 3, 4, 5]
    ont.refresh_from_db()
    assert ont.address == address
    assert (
        Event.objects.filter(name="workorder.provisioning_requested", payload__work_order_id=work_order.pk).count() == 1
    )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert ONT.objects.filter(address=address).count() == 1
