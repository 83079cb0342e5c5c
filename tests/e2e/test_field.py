"""Technicians and contractor crews on a phone, in a real browser: a job worked through to the provisioning trigger;
a failing reading recovered by the technician alone; a crew's job rejected, redone and accepted. Screenshots go to
$COS_SHOTS_DIR (tests/e2e/phone.py) for a person to look at."""

import pytest
from PIL import Image
from playwright.sync_api import expect

from cos.choices import AddressStatus, AreaStatus, OrganizationKind
from cos.models import ONT, Event, TransitionLog
from cos.services import membership_grant
from tests.cos.factories import AddressFactory, AreaFactory, ONTFactory, OrganizationFactory, UserFactory
from tests.e2e.phone import PHONE, fits_the_screen, shot
from tests.workorders.factories import work_through
from workorders import demo_data
from workorders.batch import work_orders_create_chunk
from workorders.choices import TaskStatus, WorkOrderStatus
from workorders.models import Evidence, Task, WorkOrder

pytestmark = pytest.mark.django_db(transaction=True)


def _photo(path):
    Image.new("RGB", (640, 480), (30, 120, 200)).save(path, format="JPEG")
    return str(path)


def _open_task(page, title):
    page.click(f".task-row:has-text('{title}')")
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
        page.wait_for_selector("#evidence img")
        _close(page)

    # the ONT: serial scanned and a photo
    _open_task(page, "Mount the ONT and cable it")
    page.fill("#id_ont_serial", "adtn00c0ffee")
    page.click("#form-ont_serial button[type=submit]")
    page.wait_for_selector("text=Saved: ONT ADTN00C0FFEE, bound to this address.")
    page.set_input_files("#form-photo input[type=file]", photo)
    page.click("#form-photo button[type=submit]")
    page.wait_for_selector("#evidence img")
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
    assert fits_the_screen(page)
    assert ONT.objects.filter(address=address).count() == 1


# --- a technician never gets stuck; a contractor crew's job sent back and redone ---------------------------------


def _phone(page):
    """Another person's phone: a fresh browser context at 390x844 against the same live server."""
    context = page.context.browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    other = context.new_page()
    other.set_default_timeout(15_000)
    other.base_url = page.base_url
    return other


def _log_in(page, username: str, path: str = "/field/") -> None:
    page.goto(page.base_url + path)
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123456")
    with page.expect_navigation():
        page.press("#id_password", "Enter")


def _job_at(street: str, house_number: int) -> WorkOrder:
    demo_data.seed()
    area = AreaFactory(status=AreaStatus.IN_DEPLOYMENT)
    address = AddressFactory(area=area, status=AddressStatus.IN_DEPLOYMENT, street=street, house_number=house_number)
    work_orders_create_chunk(area_id=area.pk, first_id=address.pk, last_id=address.pk)
    return WorkOrder.objects.get(address=address)


def _save_light_level(page, typed: str) -> None:
    page.fill("#id_light_level_dbm", "")
    page.click("#id_light_level_dbm")
    page.keyboard.type(typed)  # typed key by key, as on the phone's keypad
    page.click("#form-light_level button[type=submit]")


def test_a_failing_reading_then_recovery_by_the_technician_alone(browser_page):
    # given: a job whose first three steps are done, every task the technician's
    page = browser_page
    page.set_viewport_size(PHONE)
    work_order = _job_at("Ljusgatan", 7)
    technician = UserFactory(username="tina", first_name="Tina")
    membership_grant(
        user=technician, organization=OrganizationFactory(kind=OrganizationKind.NETWORK_OPERATOR), role="technician"
    )
    work_order.tasks.update(assigned_user=technician)
    work_through(work_order, technician, until=3)
    light = work_order.tasks.get(position=4)

    # when: a weak reading is saved
    _log_in(page, "tina")
    page.click("text=Ljusgatan 7")
    _open_task(page, "Light level at the ONT")
    assert page.get_attribute("#id_light_level_dbm", "inputmode") == "decimal"
    _save_light_level(page, "-30")
    # then: the saved value is read back, with its verdict
    expect(page.locator(".messages")).to_contain_text("Saved: -30.00 dBm, fails (pass -27 to -8 dBm).")

    # when: the technician tries to close anyway
    page.click("#close-task")
    # then: refused on the page with what to do, the task still open
    expect(page.locator(".messages")).to_contain_text(
        "The last light level, -30.00 dBm, fails (pass -27 to -8 dBm): record a new reading, or skip the task "
        "with a reason."
    )
    expect(page.locator("#task-status")).to_have_text("Open")
    shot(page, "field-light-level-fails")

    # when: a comma decimal is typed (once sent as -25 by a number input, and passed)
    _save_light_level(page, "-2,5")
    # then: it is -2.50 dBm, too strong, and says so
    expect(page.locator(".messages")).to_contain_text("Saved: -2.50 dBm, fails (pass -27 to -8 dBm).")

    # when: the connector is cleaned and measured again, with a comma
    _save_light_level(page, "-20,5")
    expect(page.locator(".messages")).to_contain_text("Saved: -20.50 dBm, passes.")
    shot(page, "field-light-level-passes")
    _close(page)

    # when: he reopens his own task to measure once more, then closes it again
    page.click(".task-row:has-text('Light level at the ONT')")
    page.fill("#reopen-form input[name=reason]", "Measure again after fixing the patch cord")
    page.click("#reopen-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("is open again")
    expect(page.locator("#task-status")).to_have_text("Open")
    _close(page)
    _open_task(page, "Turn the service on")
    _close(page)

    # then: the readings are what he typed, the task and the trigger are done, provisioning asked for once
    readings = [str(e.light_level_dbm) for e in light.evidence.order_by("id")]
    assert readings == ["-30.00", "-2.50", "-20.50"]
    assert Task.objects.get(pk=light.pk).status == TaskStatus.DONE
    reopened = TransitionLog.objects.filter(object_id=light.pk, transition="reopen").get()
    assert (reopened.actor, reopened.reason) == (technician, "Measure again after fixing the patch cord")
    assert (
        Event.objects.filter(name="workorder.provisioning_requested", payload__work_order_id=work_order.pk).count() == 1
    )
    assert fits_the_screen(page)


def test_reject_then_redo_then_accept_by_a_contractor_crew(browser_page, tmp_path):
    # given: a job whose two contractor steps are handed to Gravteam, the rest to the operator's technician
    page = browser_page
    page.set_viewport_size(PHONE)
    work_order = _job_at("Kvarngatan", 4)
    operator = OrganizationFactory(name="Stadsnät", kind=OrganizationKind.NETWORK_OPERATOR)
    gravteam = OrganizationFactory(name="Gravteam", kind=OrganizationKind.CONTRACTOR)
    rival = OrganizationFactory(name="Kabelbolaget", kind=OrganizationKind.CONTRACTOR)
    people = {}
    for username, first_name, organization, role in [
        ("tina", "Tina", operator, "technician"),
        ("frida", "Frida", gravteam, "field_manager"),
        ("carl", "Carl", gravteam, "technician"),
        ("rita", "Rita", rival, "technician"),
    ]:
        people[username] = UserFactory(username=username, first_name=first_name, last_name="Berg")
        membership_grant(user=people[username], organization=organization, role=role)
    UserFactory(username="olle", is_staff=True, is_superuser=True)
    work_order.tasks.filter(position__in=[1, 2]).update(assigned_organization=gravteam)
    work_order.tasks.filter(position__gt=2).update(assigned_user=people["tina"])
    drop, entry = work_order.tasks.get(position=1), work_order.tasks.get(position=2)
    wrong, right = _photo(tmp_path / "wrong.jpg"), _photo(tmp_path / "right.jpg")

    # when: the field manager assigns nothing, then selects all for Carl
    _log_in(page, "frida")
    page.select_option("#assign-user", label="Carl Berg")
    page.click("#assign-form button[type=submit]")
    expect(page.locator("#assign-form")).to_contain_text("Choose at least one task to assign.")
    page.check("#assign-all")
    expect(page.locator("#assign-form input[name=task]:checked")).to_have_count(2)
    page.select_option("#assign-user", label="Carl Berg")
    page.click("#assign-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("2 tasks assigned to Carl Berg.")

    # and schedules the visit: a day and a window
    page.click("text=Kvarngatan 4")
    page.fill("#id_on", "2031-05-14")
    page.fill("#id_window_start", "08:00")
    page.fill("#id_window_end", "12:00")
    page.click("#schedule-form button[type=submit]")
    expect(page.locator("#visit")).to_contain_text("Wednesday 14 May, 08:00–12:00")
    shot(page, "field-manager-scheduled")

    # when: Carl works his two steps, taking back a wrong photo first
    carl = _phone(page)
    _log_in(carl, "carl")
    carl.click("text=Kvarngatan 4")
    _open_task(carl, "Drop from the distribution point")
    carl.set_input_files("#form-photo input[type=file]", wrong)
    carl.click("#form-photo button[type=submit]")
    carl.wait_for_selector("#evidence img")
    carl.click("#evidence button:has-text('Remove')")
    expect(carl.locator(".messages")).to_contain_text("Photo removed")
    expect(carl.locator("#evidence img")).to_have_count(0)
    carl.set_input_files("#form-photo input[type=file]", right)
    carl.click("#form-photo button[type=submit]")
    expect(carl.locator("#evidence img")).to_have_count(1)
    _close(carl)
    _open_task(carl, "Building entry and wall box")
    carl.set_input_files("#form-photo input[type=file]", right)
    carl.click("#form-photo button[type=submit]")
    carl.wait_for_selector("#evidence img")
    _close(carl)

    # and a technician of another contractor who opens the task is told who holds it
    rita = _phone(page)
    _log_in(rita, "rita", path=f"/field/tasks/{entry.pk}/")
    expect(rita.locator("#held-by")).to_contain_text("Gravteam — Carl Berg")
    shot(rita, "field-task-held-by-another-organization")

    # and the operator's technician finishes the job: it waits for the operator's sign-off
    work_through(work_order, people["tina"], ont_serial=ONTFactory(serial="ADTN00C0FFEE").serial)
    work_order.refresh_from_db()
    assert work_order.status == WorkOrderStatus.COMPLETED

    # when: the operator rejects it in the admin, first without picking a task
    desk = page.context.browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    desk.set_default_timeout(15_000)
    desk.base_url = page.base_url
    _log_in(desk, "olle", path="/admin/workorders/workorder/")
    desk.check(f"input[name=_selected_action][value='{work_order.pk}']")
    desk.select_option("select[name=action]", "reject")
    desk.click("button[name=index]")
    desk.fill("textarea[name=reason]", "Wall box not sealed")
    desk.click("input[name=apply]")
    expect(desk.locator("body")).to_contain_text("Choose the tasks to redo.")
    desk.check(f"input[name=tasks][value='{entry.pk}']")
    desk.fill("textarea[name=reason]", "Wall box not sealed")
    shot(desk, "admin-reject-with-tasks")
    desk.click("input[name=apply]")
    expect(desk.locator(".messagelist")).to_contain_text("sent back to the field")

    # then: Carl is told, and the task is back on his My work with the reason on top
    carl.goto(carl.base_url + "/field/")
    expect(carl.locator(".notice")).to_contain_text("was sent back: Wall box not sealed")
    expect(carl.locator(".task-row .redo")).to_contain_text("Redo: Wall box not sealed")
    shot(carl, "field-sent-back-notice")
    carl.click(".notice button:has-text('Mark read')")
    expect(carl.locator(".notice")).to_have_count(0)
    carl.click(".task-row:has-text('Building entry and wall box')")
    expect(carl.locator("#sent-back")).to_contain_text("Sent back by the operator: Wall box not sealed")
    shot(carl, "field-task-sent-back")

    # when: he replaces the photo and closes the task again
    carl.click("summary:has-text('Replace this photo')")
    carl.set_input_files(".replace input[type=file]", right)
    carl.click(".replace button[type=submit]")
    expect(carl.locator("#evidence img")).to_have_count(1)
    _close(carl)

    # then: the job is back for sign-off, and the operator accepts it
    work_order.refresh_from_db()
    assert work_order.status == WorkOrderStatus.COMPLETED
    desk.goto(desk.base_url + "/admin/workorders/workorder/")
    desk.check(f"input[name=_selected_action][value='{work_order.pk}']")
    desk.select_option("select[name=action]", "accept")
    desk.click("button[name=index]")
    expect(desk.locator(".messagelist")).to_contain_text("accepted")
    work_order.refresh_from_db()
    assert work_order.status == WorkOrderStatus.ACCEPTED
    assert Task.objects.get(pk=drop.pk).completed_by == people["carl"]
    assert Evidence.objects.filter(task=drop).exclude(removed_at=None).count() == 1  # the wrong photo, kept
    assert fits_the_screen(carl)
