"""What the browser tests at phone size share: the screen of a current phone, screenshots for a person to look at,
and the check that a page does not scroll sideways.

Screenshots go to $COS_SHOTS_DIR (default /tmp/cos-shots), one folder per test module.
"""

import os
from pathlib import Path

PHONE = {"width": 390, "height": 844}
SHOTS = Path(os.environ.get("COS_SHOTS_DIR", "/tmp/cos-shots"))


def fits_the_screen(page) -> bool:
    """Nothing on the page is wider than the screen (no sideways scrolling of the page)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def shot(page, name: str, *, full_page: bool = True) -> Path:
    """A screenshot of the page, in the folder of the test module that takes it."""
    module = Path(os.environ.get("PYTEST_CURRENT_TEST", "e2e").split("::")[0]).stem
    path = SHOTS / module / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path


def checkout_details(page) -> None:
    """Fill the checkout's details as Eva Berg of Storgatan 12, Västerås would (a morning slot where asked)."""
    for field, value in (
        ("first_name", "Eva"),
        ("last_name", "Berg"),
        ("email", "eva@example.test"),
        ("phone", "+46 70 000 00 00"),
        ("billing_street", "Storgatan 12"),
        ("billing_postal_code", "72110"),
        ("billing_city", "Västerås"),
    ):
        page.fill(f"#id_{field}", value)
    if page.is_visible("#id_install_slot"):
        page.select_option("#id_install_slot", "morning")
