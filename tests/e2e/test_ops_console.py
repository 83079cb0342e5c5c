"""An operator opens the console at /ops/ on a 1366x768 screen, in a real browser: each queue's count is what needs
attention, and its link leads to a list of exactly those items; the work order waiting for sign-off shows its
evidence on its page; the change lists fit the screen; the console reads on a phone too. Screenshots go to
$COS_SHOTS_DIR (tests/e2e/phone.py) for a person to look at."""

import pytest
from django.urls import reverse

from tests.cos import test_ops_console as console_items
from tests.e2e.phone import PHONE, shot

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1366, "height": 768}

# The items of every kind the console counts (and some of each kind that must not count), and the people.
attention, crew, deliver, templates = (
    console_items.attention,
    console_items.crew,
    console_items.deliver,
    console_items.templates,
)


@pytest.fixture
def desktop(browser_page):
    """A 1366x768 window of the suite's headless chromium (the phone fixture is narrower)."""
    context = browser_page.context.browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = browser_page.base_url
    yield page
    context.close()


def _fits_the_screen(page) -> bool:
    """Nothing scrolls sideways: neither the page nor a change list's table inside its box."""
    return page.evaluate(
        """() => document.documentElement.scrollWidth <= window.innerWidth
            && [...document.querySelectorAll('#changelist .results, .inline-related .tabular, .table-wrap')]
                .every(box => box.scrollWidth <= box.clientWidth + 1)"""
    )


def _log_in(page, username: str) -> None:
    page.goto(page.base_url + "/ops/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123456")
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_selector("h1:has-text('Operator console')")


def _listed_ids(page) -> set[int]:
    """The ids of the rows of an admin change list (their selection checkboxes)."""
    values = page.locator("#result_list input.action-select").evaluate_all("boxes => boxes.map(b => b.value)")
    return {int(value) for value in values}


def test_the_operators_queues_lead_to_the_right_items(attention, crew, desktop):
    # given
    expected = attention.expected()
    page = desktop

    # when: the operator logs in and opens the console
    _log_in(page, crew.ops.username)
    shot(page, "ops-console-1366")
    assert _fits_the_screen(page)

    # then: each queue shows its count, and its link opens a list of exactly its items
    for key, pks in expected.items():
        card = page.locator(f"#queue-{key}")
        assert card.locator(".count").inner_text() == str(len(pks)), key
        card.locator("a.queue-link").click()
        page.wait_for_selector("#result_list")
        assert _listed_ids(page) == pks, key
        if key == "work_orders_awaiting_sign_off":
            shot(page, "ops-queue-awaiting-sign-off-1366", full_page=False)
            assert _fits_the_screen(page)
        page.go_back()
        page.wait_for_selector("h1:has-text('Operator console')")

    # and the job waiting for sign-off shows its evidence on its page
    page.locator("#queue-work_orders_awaiting_sign_off a.queue-link").click()
    page.locator(f"#result_list a[href*='/{attention.awaiting_sign_off.pk}/change/']").click()
    page.wait_for_selector(".task-evidence")
    thumbnails = page.locator(".task-evidence img")
    assert thumbnails.count() >= 4
    assert all(
        thumbnails.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(thumbnails.count())
    )
    assert page.locator(".evidence-light_level .evidence-pass").count() >= 1
    shot(page, "ops-work-order-evidence-1366")
    assert _fits_the_screen(page)


def test_the_change_lists_fit_a_1366_screen(attention, crew, desktop):
    # given
    page = desktop
    _log_in(page, crew.ops.username)
    # when / then
    for name, url in [
        ("work-orders", reverse("admin:workorders_workorder_changelist")),
        ("tasks", reverse("admin:workorders_task_changelist")),
        ("provisioning-jobs", reverse("admin:provisioning_provisioningjob_changelist")),
        ("service-instances", reverse("admin:provisioning_serviceinstance_changelist")),
        ("orders", reverse("admin:marketplace_order_changelist")),
        ("invoices", reverse("admin:billing_invoice_changelist")),
    ]:
        page.goto(page.base_url + url)
        page.wait_for_selector("#changelist")
        shot(page, f"ops-list-{name}-1366", full_page=False)
        overflow = page.evaluate(
            "() => { const b = document.querySelector('#changelist .results');"
            " return b ? b.scrollWidth - b.clientWidth : 0; }"
        )
        assert _fits_the_screen(page), f"{name}: the table is {overflow} px wider than its box"


def test_the_console_reads_on_a_phone(attention, crew, browser_page):
    # given
    page = browser_page
    page.set_viewport_size(PHONE)
    # when
    _log_in(page, crew.ops.username)
    # then
    shot(page, "ops-console-phone")
    assert _fits_the_screen(page)
    assert page.locator("#queue-work_orders_awaiting_sign_off .count").inner_text() == "1"
    page.goto(page.base_url + reverse("ops-deployment"))
    shot(page, "ops-deployment-phone")
    assert _fits_the_screen(page)
