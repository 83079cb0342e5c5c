"""Consumers see prices including VAT (issue 16): the 349 SEK offer costs 349.00 on the offers page, the review and
the invoice, which state the VAT it includes ("of which VAT 25 %: 69.80"); a business marketplace adds VAT on top.
Estimates, overrides and refunds take the same gross amounts."""

import re
from datetime import date
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.template.loader import render_to_string
from django.urls import reverse

from billing import changes, overrides, refunds
from billing.choices import InvoiceKind, InvoiceStatus, LineKind
from billing.models import Invoice, InvoiceLine, Payment, ReasonCode
from billing.payments import payment_method_add
from billing.pdf import invoice_document_lines, render_invoice_pdf
from billing.services import account_for
from cos.errors import ApplicationError
from marketplace.choices import Segment
from marketplace.models import Marketplace, Price, Subscription
from marketplace.pricing import first_month_estimate
from tests.billing.factories import TEST_CARD, activate, at, rules, subscription
from tests.cos.factories import UserFactory
from tests.marketplace.factories import MarketplaceFactory, PromotionFactory, days_from_today, world

pytestmark = pytest.mark.django_db

MARCH_FIRST = date(2026, 3, 1)  # a whole month: the first invoice is the monthly price, not prorated


def _consumer_world(monthly="349.00", start_fee="0.00", *, tax_rate="0.2500"):
    """A residential marketplace whose prices include VAT, its internet offer at `monthly` a month."""
    w = world()
    Marketplace.objects.filter(pk=w.marketplace.pk).update(prices_include_tax=True, tax_rate=Decimal(tax_rate))
    Price.objects.filter(pk=w.internet_price.pk).update(monthly_amount=Decimal(monthly), start_fee=Decimal(start_fee))
    w.marketplace.refresh_from_db()
    return w


def _text(html: str) -> str:
    """A page as a reader sees it: no tags, single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _review(client, w, customer_type="residential", **details) -> str:
    """The review page of an order of the world's internet offer."""
    client.post(
        reverse("checkout-start"),
        {"address": w.address.pk, "customer_type": customer_type, "offer": [f"{w.marketplace.pk}:{w.internet.pk}"]},
    )
    data = {
        "first_name": "Eva",
        "last_name": "Berg",
        "email": "eva@example.test",
        "phone": "+46 70 000 00 00",
        "billing_street": "Storgatan 3",
        "billing_postal_code": "72110",
        "billing_city": "Västerås",
        "install_date": days_from_today(10).isoformat(),
        "install_slot": "morning",
        "password": "a-long-pass-phrase",
        **details,
    }
    response = client.post(reverse("checkout-details"), data)
    assert response.status_code == 302, response.content.decode()
    return _text(client.get(reverse("checkout-review")).content.decode())


def _portal_invoice(client, invoice: Invoice) -> str:
    customer = invoice.account.customer
    if customer.user is None:
        customer.user = UserFactory()
        customer.save(update_fields=["user"])
    client.force_login(customer.user)
    return client.get(reverse("portal-invoice", args=[invoice.pk])).content.decode()


# --- the case --------------------------------------------------------------------------------------------


def test_the_349_offer_of_a_consumer_marketplace_reads_349_including_vat_on_offers_and_review(client):
    # given: the 349 SEK offer on a residential marketplace whose prices include VAT
    w = _consumer_world()
    # when: the subscriber compares offers at the address
    offers = _text(client.get(reverse("address-offers", args=[w.address.pk])).content.decode())
    # then: the price as it is, including VAT
    assert "349.00 SEK incl. VAT" in offers
    # when: the order is reviewed
    review = _review(client, w)
    # then: 349.00 a month, 349.00 in total, and the VAT that includes; nothing added on top
    assert "Fiber 1000, monthly 349.00 SEK" in review
    assert "First month, total incl. VAT 349.00 SEK" in review
    assert "of which VAT 25 % 69.80 SEK" in review
    assert "436.25" not in review
    assert "87.25" not in review


def test_the_349_offers_invoice_totals_349_of_which_vat_25_percent_69_80(client):
    # given: the 349 SEK offer of a consumer marketplace, activated on the 1st (a whole first month)
    w = _consumer_world()
    # when
    invoice = activate(subscription(w), MARCH_FIRST)
    # then: the customer pays 349.00; its VAT, 69.80, is stated and included
    invoice.refresh_from_db()
    assert invoice.prices_include_tax
    assert (invoice.subtotal, invoice.tax, invoice.total) == (Decimal("279.20"), Decimal("69.80"), Decimal("349.00"))
    line = invoice.lines.get(kind=LineKind.RECURRING)
    assert (line.amount, line.tax, line.shown_amount) == (Decimal("279.20"), Decimal("69.80"), Decimal("349.00"))
    assert invoice.lines.get(kind=LineKind.TAX).description == "of which VAT 25 %: 69.80"
    # and the invoice page and the PDF show the gross line, its VAT, and the VAT the total includes
    page = _portal_invoice(client, invoice)
    assert 'id="total">349.00 SEK' in page
    assert 'id="tax">69.80 SEK' in page
    assert 'id="subtotal">279.20 SEK' in page
    assert "of which VAT 25 % 69.80 SEK" in _text(page)
    assert "Amount incl. VAT" in page
    rows = re.findall(r"<tr>\s*<td>Fiber 1000.*?</tr>", page, flags=re.DOTALL)
    assert len(rows) == 1
    assert "69.80" in rows[0]
    assert "349.00 SEK" in rows[0]
    pdf = _text(
        render_to_string(
            "billing/invoice_pdf.html",
            {
                "invoice": invoice,
                "issuer": invoice.issuer,
                "customer": invoice.account.customer,
                "lines": invoice_document_lines(invoice),
            },
        )
    )
    assert "Total incl. VAT 349.00 SEK of which VAT 25 % 69.80 SEK Net excl. VAT 279.20 SEK" in pdf
    assert "69.80 349.00" in pdf  # the line: its VAT, its amount including VAT
    assert render_invoice_pdf(invoice).startswith(b"%PDF")


def test_a_business_marketplace_still_adds_vat_on_top(client, django_capture_on_commit_callbacks):
    # given: the same 349 offer on a business marketplace (net prices)
    w = world()
    Marketplace.objects.filter(pk=w.marketplace.pk).update(segment=Segment.BUSINESS, prices_include_tax=False)
    Price.objects.filter(pk=w.internet_price.pk).update(monthly_amount=Decimal("349.00"), start_fee=Decimal("0"))
    # when: offers and review
    offers = _text(
        client.get(reverse("address-offers", args=[w.address.pk]), {"customer_type": "business"}).content.decode()
    )
    review = _review(client, w, customer_type="business", company_name="Berg AB")
    # then: 349.00 excluding VAT, 87.25 VAT added, 436.25 to pay
    assert "349.00 SEK excl. VAT" in offers
    assert "Subtotal excl. VAT 349.00 SEK" in review
    assert "VAT 25 % 87.25 SEK" in review
    assert "of which" not in review
    assert "First month, total 436.25 SEK" in review
    # and its invoice adds the VAT too
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("checkout-review"), {"terms_accepted": "on"})
    invoice = activate(Subscription.objects.get(customer__email="eva@example.test"), MARCH_FIRST)
    invoice.refresh_from_db()
    assert not invoice.prices_include_tax
    assert (invoice.subtotal, invoice.tax, invoice.total) == (Decimal("349.00"), Decimal("87.25"), Decimal("436.25"))
    assert invoice.lines.get(kind=LineKind.TAX).description == "VAT 25% of 349.00"
    page = _portal_invoice(client, invoice)
    assert "VAT 25 % 87.25 SEK" in _text(page)
    assert "Amount excl. VAT" in page


def test_an_issued_invoice_keeps_the_way_it_was_priced_when_the_marketplace_changes():
    # given: an invoice of a consumer marketplace
    w = _consumer_world()
    invoice = activate(subscription(w), MARCH_FIRST)
    # when: the marketplace turns to net prices
    Marketplace.objects.filter(pk=w.marketplace.pk).update(prices_include_tax=False)
    # then: the invoice still says what it said
    invoice.refresh_from_db()
    assert invoice.prices_include_tax
    assert (invoice.tax, invoice.total) == (Decimal("69.80"), Decimal("349.00"))


def test_a_plan_change_and_a_termination_credit_the_gross_they_charged():
    # given: 349.00 incl. VAT billed for March, on a consumer marketplace
    w = _consumer_world()
    sub = subscription(w)
    first = activate(sub, MARCH_FIRST)
    # when: an upgrade to 449.00 from 17 March, then the end on 25 March
    upgrade = changes.rate_change_apply(
        subscription_id=sub.pk, at=at(date(2026, 3, 17)), monthly_amount="449.00", product_id=sub.product_id
    )
    final = changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 25)))
    # then: 15 of 31 days at 349.00 credited (-168.87, of which VAT -33.77) and charged at 449.00 (217.26, 43.45)
    upgrade.refresh_from_db()
    assert sorted((line.shown_amount, line.tax) for line in upgrade.lines.exclude(kind=LineKind.TAX)) == [
        (Decimal("-168.87"), Decimal("-33.77")),
        (Decimal("217.26"), Decimal("43.45")),
    ]
    assert (upgrade.total, upgrade.tax) == (Decimal("48.39"), Decimal("9.68"))
    # and the days from 25 March are credited at the price they were charged at: a credit note of -101.39
    final.refresh_from_db()
    assert final.kind == InvoiceKind.CREDIT_NOTE
    assert [(line.shown_amount, line.tax) for line in final.lines.exclude(kind=LineKind.TAX)] == [
        (Decimal("-101.39"), Decimal("-20.28"))
    ]
    assert (final.total, final.tax, final.subtotal) == (Decimal("-101.39"), Decimal("-20.28"), Decimal("-81.11"))
    # and every document adds up, its net plus its VAT its gross total
    for document in (first, upgrade, final):
        document.refresh_from_db()
        assert document.prices_include_tax
        assert document.subtotal + document.tax == document.total
    assert first.total + upgrade.total + final.total == Decimal("296.00")  # 349.00 - 168.87 + 217.26 - 101.39


# --- the estimate is the first invoice ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("monthly", "start_fee", "tax_rate", "promotion"),
    [
        ("349.00", "0.00", "0.2500", None),
        ("399.00", "495.00", "0.2500", ("percent_off", Decimal("50"))),
        ("299.90", "199.00", "0.1200", ("amount_off", Decimal("100.00"))),
        ("449.00", "99.00", "0.0600", ("free_months", Decimal("1"))),
    ],
)
def test_the_first_month_estimate_is_what_the_first_invoice_charges(monthly, start_fee, tax_rate, promotion):
    # given: a consumer marketplace's offer, perhaps promoted
    w = _consumer_world(monthly, start_fee, tax_rate=tax_rate)
    if promotion:
        PromotionFactory(product=w.internet, kind=promotion[0], value=promotion[1])
    sub = subscription(w)
    estimate = first_month_estimate(
        items=[
            {
                "name": w.internet.name,
                "monthly_amount": sub.monthly_amount,
                "start_fee": sub.start_fee,
                "promotion_kind": sub.promotion_kind,
                "promotion_value": sub.promotion_value,
            }
        ],
        tax_rate=w.marketplace.tax_rate,
        currency="SEK",
        prices_include_tax=True,
    )
    # when: activated on the 1st (the estimate shows a whole month)
    invoice = activate(sub, MARCH_FIRST)
    # then: the same net, tax and total, and the same gross lines
    invoice.refresh_from_db()
    assert bool(sub.promotion_kind) == bool(promotion)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (estimate.net, estimate.tax, estimate.total)
    shown = sorted(line.shown_amount for line in invoice.lines.exclude(kind=LineKind.TAX))
    assert shown == sorted(line.amount for line in estimate.lines)


# --- overrides and refunds take gross amounts --------------------------------------------------------------------


@pytest.fixture
def clerk(django_user_model):
    user = django_user_model.objects.create_user("finance", "finance@example.test", "pw-123456", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="billing", codename="override_pricing"))
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def goodwill():
    return ReasonCode.objects.create(code="goodwill", label="Goodwill")


def _paid_by_card(w, django_capture_on_commit_callbacks) -> Payment:
    """The consumer's first invoice, paid by card at once."""
    sub = subscription(w)
    account = account_for(sub)
    type(account).objects.filter(pk=account.pk).update(collection="automatic")
    payment_method_add(account_id=account.pk, details=TEST_CARD)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, MARCH_FIRST)
    return Payment.objects.get(invoice=invoice)


@pytest.mark.parametrize("amount", ["10.02", "0.07", "33.33", "100.00", "349.00"])
def test_a_refund_of_a_gross_amount_is_a_credit_note_of_exactly_that_amount(
    amount, django_capture_on_commit_callbacks, clerk, goodwill
):
    # given: the 349.00 invoice of a consumer marketplace, paid by card
    payment = _paid_by_card(_consumer_world(), django_capture_on_commit_callbacks)
    assert payment.amount == Decimal("349.00")
    # when: finance refunds the amount the customer is to get back
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.payment_refund(payment_id=payment.pk, amount=amount, reason_code=goodwill, actor=clerk)
    # then: the credit note is for exactly that amount, its line split into net and the VAT it includes
    refund.refresh_from_db()
    credit_note = refund.credit_note
    assert refund.amount == Decimal(amount)
    assert credit_note.total == -Decimal(amount)
    assert credit_note.prices_include_tax
    line = credit_note.lines.get(kind=LineKind.CREDIT)
    assert line.shown_amount == -Decimal(amount)
    assert line.tax == credit_note.tax
    assert credit_note.subtotal + credit_note.tax == credit_note.total
    assert sum(credit_note.lines.values_list("amount", flat=True)) == credit_note.total


def test_a_credit_of_a_gross_amount_and_its_limit(clerk, goodwill):
    # given: the open 349.00 invoice of a consumer marketplace
    w = _consumer_world()
    invoice = activate(subscription(w), MARCH_FIRST)
    # when: a credit of 100.00
    override = overrides.invoice_credit(invoice_id=invoice.pk, amount="100.00", reason_code=goodwill, actor=clerk)
    # then: a credit note of exactly 100.00, of which VAT 20.00
    credit_note = override.result
    assert (credit_note.kind, credit_note.total, credit_note.tax) == (
        InvoiceKind.CREDIT_NOTE,
        Decimal("-100.00"),
        Decimal("-20.00"),
    )
    assert (override.old_value, override.new_value) == (Decimal("349.00"), Decimal("249.00"))
    # and what is left (249.00) is the most that can be credited
    with pytest.raises(ApplicationError) as refused:
        overrides.invoice_credit(invoice_id=invoice.pk, amount="249.01", reason_code=goodwill, actor=clerk)
    assert refused.value.code == "credit_exceeds_invoice"
    assert "249.01 SEK is more than is left to credit" in refused.value.message
    assert "plus tax" not in refused.value.message


def test_a_manual_price_and_a_discount_on_a_consumer_draft_are_gross(clerk, goodwill):
    # given: a consumer's draft (a review window keeps it a draft)
    w = _consumer_world()
    rules(w.marketplace, review_minutes=60)
    invoice = activate(subscription(w), MARCH_FIRST)
    assert invoice.status == InvoiceStatus.DRAFT
    line = invoice.lines.get(kind=LineKind.RECURRING)
    # when: the line gets a manual price of 299.00
    override = overrides.line_price_override(line_id=line.pk, amount="299.00", reason_code=goodwill, actor=clerk)
    # then: it shows 299.00, of which VAT 59.80, and so does the draft
    line.refresh_from_db()
    invoice.refresh_from_db()
    assert (override.old_value, override.new_value) == (Decimal("349.00"), Decimal("299.00"))
    assert (line.shown_amount, line.tax) == (Decimal("299.00"), Decimal("59.80"))
    assert (invoice.subtotal, invoice.tax, invoice.total) == (Decimal("239.20"), Decimal("59.80"), Decimal("299.00"))
    assert invoice.lines.get(kind=LineKind.TAX).description == "of which VAT 25 %: 59.80"
    # when: a discount of 49.00
    overrides.invoice_discount(invoice_id=invoice.pk, amount="49.00", reason_code=goodwill, actor=clerk)
    # then: 250.00 to pay, of which VAT 50.00, every line adding back to what it shows
    invoice.refresh_from_db()
    assert (invoice.subtotal, invoice.tax, invoice.total) == (Decimal("200.00"), Decimal("50.00"), Decimal("250.00"))
    discount = invoice.lines.get(kind=LineKind.ADJUSTMENT)
    assert (discount.shown_amount, discount.tax) == (Decimal("-49.00"), Decimal("-9.80"))
    # and a discount beyond the draft's total is refused
    with pytest.raises(ApplicationError) as refused:
        overrides.invoice_discount(invoice_id=invoice.pk, amount="250.01", reason_code=goodwill, actor=clerk)
    assert refused.value.code == "discount_exceeds_invoice"
    assert InvoiceLine.objects.filter(invoice=invoice, kind=LineKind.ADJUSTMENT).count() == 1


# --- the setting -------------------------------------------------------------------------------------------------


def test_existing_consumer_marketplaces_include_tax_from_the_migration_on_unless_they_have_sold():
    # given: marketplaces of each segment, all with net prices, and a residential one with a subscription
    made = {segment: MarketplaceFactory(segment=segment, prices_include_tax=False) for segment in Segment.values}
    sold = subscription(world()).marketplace
    Marketplace.objects.filter(pk=sold.pk).update(segment="residential", prices_include_tax=False)
    migration = import_module("marketplace.migrations.0005_prices_include_tax")
    # when
    migration.consumer_marketplaces_include_tax(apps, None)
    # then: residential and municipal include VAT, business keeps net prices; what was sold keeps its prices' meaning
    included = dict(
        Marketplace.objects.filter(pk__in=[m.pk for m in made.values()]).values_list("segment", "prices_include_tax")
    )
    assert included == {"residential": True, "municipal": True, "business": False}
    assert Marketplace.objects.get(pk=sold.pk).prices_include_tax is False


def test_whether_prices_include_tax_is_fixed_once_a_marketplace_has_sold(admin_client):
    # given: a marketplace with a live subscription, and one without
    sold = subscription(world()).marketplace
    empty = MarketplaceFactory()
    # when
    pages = {
        m.pk: admin_client.get(f"/admin/marketplace/marketplace/{m.pk}/change/").content.decode() for m in (sold, empty)
    }
    # then: the sold one shows it, read-only; the other one can still change it
    assert 'name="prices_include_tax"' not in pages[sold.pk]
    assert "field-prices_include_tax" in pages[sold.pk]
    assert 'name="prices_include_tax"' in pages[empty.pk]


@pytest.mark.parametrize(
    ("segment", "choice", "included"),
    [
        ("residential", "segment", True),
        ("municipal", "segment", True),
        ("business", "segment", False),
        ("business", "included", True),
        ("residential", "added", False),
    ],
)
def test_a_new_marketplace_in_the_admin_includes_tax_as_its_segment_says_unless_chosen(
    admin_client, segment, choice, included
):
    # when: an operator adds a marketplace
    response = admin_client.post(
        reverse("admin:marketplace_marketplace_add"),
        {
            "name": "Ny",
            "slug": "ny",
            "segment": segment,
            "currency": "SEK",
            "tax_rate": "0.2500",
            "prices_include_tax": choice,
            "time_zone": "Europe/Stockholm",
            "requires_installation_window": "on",
            "participations-TOTAL_FORMS": "0",
            "participations-INITIAL_FORMS": "0",
        },
    )
    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Marketplace.objects.get(slug="ny").prices_include_tax is included
    # and its change page shows the setting as a plain yes/no, changeable
    page = admin_client.get(
        reverse("admin:marketplace_marketplace_change", args=[Marketplace.objects.get(slug="ny").pk])
    )
    assert 'name="prices_include_tax"' in page.content.decode()
    assert 'type="checkbox"' in page.content.decode()
