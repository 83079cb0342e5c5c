from decimal import Decimal
import pytest
from marketplace.models import Switch
from marketplace.validation import LineRequest
from marketplace import services
from tests.e2e.test_lifecycle import phone, _subscriber_with_live_internet_and_tv, _log_in, _shot, _fits_the_screen  # noqa
from tests.marketplace.factories import ContractTermFactory, ParticipationFactory, PriceFactory, ProductFactory
pytestmark = pytest.mark.django_db(transaction=True)

def test_scratch(phone):
    w, internet, tv = _subscriber_with_live_internet_and_tv()
    # a fee term on TV for the fee note
    b = ParticipationFactory(marketplace=w.marketplace).provider
    bp = ProductFactory(provider=b, name="B 500")
    PriceFactory(product=bp, marketplace=w.marketplace, monthly_amount=Decimal("329.00"), start_fee=0)
    order, _ = services.order_place(request=w.request(provider_id=b.pk, lines=[LineRequest(bp.pk, Decimal("329.00"), "SEK")]))
    page = phone
    _log_in(page)
    for loc in ["a:has-text('Abort the switch')", "button:has-text('Cancel order')", "a:has-text('Invoices, what you owe')"]:
        for i in range(page.locator(loc).count()):
            print(loc, page.locator(loc).nth(i).bounding_box())
    page.click("button:has-text('Cancel order')")
    page.wait_for_selector(".messages")
    print("after cancel order:", page.inner_text(".messages"))
    print(Switch.objects.get().status)
    _shot(page, "scratch-cancel-order")

def test_scratch_fee(phone):
    from tests.marketplace.factories import world
    from tests.cos.factories import UserFactory
    from django.utils import timezone
    from marketplace.models import Subscription
    w = world()
    w.internet.term = ContractTermFactory(provider=w.provider, minimum_months=24, notice_days=30, early_termination_fee=Decimal("1500.00"))
    w.internet.save()
    w.customer.user = UserFactory(username="eva")
    w.customer.save()
    order, _ = services.order_place(request=w.request(w.internet))
    s = Subscription.objects.get()
    services.subscription_activate(subscription_id=s.pk, at=timezone.now())
    page = phone
    _log_in(page)
    page.click("text=End subscription")
    page.wait_for_selector("#earliest-end")
    _shot(page, "scratch-fee")
    print("fits", _fits_the_screen(page))
    page.select_option("#id_reason", "other")
    page.click("text=Confirm: end Fiber 1000")
    page.wait_for_selector(".errorlist")
    _shot(page, "scratch-other-error")
    page.fill("#id_note", "too slow")
    page.fill("#id_ends_on", "2020-01-01")
    page.click("text=Confirm: end Fiber 1000")
    page.wait_for_timeout(500)
    print("url after past date:", page.url)
    _shot(page, "scratch-past-date")
