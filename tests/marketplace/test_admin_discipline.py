"""Admin discipline in the marketplace: a live price is never edited in place (a new version goes through
price_save), whose catalog row it is stays fixed, and orders are never deleted."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cos.services import membership_grant
from marketplace.models import Order, Price
from tests.cos.factories import OrganizationFactory, UserFactory
from tests.marketplace.factories import PriceFactory, ProductFactory, ProviderFactory, world

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456"))
    return client


@pytest.fixture
def ops(client):
    user = UserFactory(username="olle-ops")
    membership_grant(user=user, organization=OrganizationFactory(kind="network_operator"), role="operations")
    client.force_login(user)
    return client


def _price_form(price: Price, **changes) -> dict:
    values = {
        "product": price.product_id,
        "marketplace": price.marketplace_id,
        "monthly_amount": str(price.monthly_amount),
        "start_fee": str(price.start_fee),
        "currency": price.currency,
        "valid_from": price.valid_from.isoformat(),
        "valid_to": "",
    }
    return {**values, **changes}


@pytest.mark.parametrize("who", ["ops", "root"])
def test_a_live_price_is_not_changed_in_place_from_its_change_form(who, request):
    # given: the live, open-ended price of a product
    client = request.getfixturevalue(who)
    price = world().internet_price
    url = reverse("admin:marketplace_price_change", args=[price.pk])
    # when: its change form is posted with another amount, start fee and start day
    response = client.post(
        url, _price_form(price, monthly_amount="1.00", start_fee="0.00", valid_from=timezone.localdate().isoformat())
    )
    # then: the version is exactly what it was, and the page offers no field to type a new amount into
    assert response.status_code in (200, 302)
    price.refresh_from_db()
    assert (price.monthly_amount, price.start_fee, price.valid_to) == (Decimal("399.00"), Decimal("495.00"), None)
    assert price.valid_from == timezone.localdate() - timedelta(days=30)
    assert 'name="monthly_amount"' not in client.get(url).content.decode()


def test_a_new_price_version_goes_through_price_save_and_closes_the_open_one(root):
    # given: the live, open-ended price
    price = world().internet_price
    starts = timezone.localdate() + timedelta(days=1)
    # when: a new version is added from the admin
    response = root.post(
        reverse("admin:marketplace_price_add"),
        _price_form(price, monthly_amount="449.00", valid_from=starts.isoformat()),
    )
    # then: the new version starts tomorrow, and the old one ends where it starts (no overlap, no gap)
    assert response.status_code == 302
    new = Price.objects.get(product=price.product, valid_from=starts)
    assert new.monthly_amount == Decimal("449.00")
    price.refresh_from_db()
    assert price.valid_to == starts
    assert price.monthly_amount == Decimal("399.00")


def test_an_overlapping_price_version_is_refused_next_to_its_field(root):
    # given: a version that ends in ten days, followed by an open-ended one
    product = ProductFactory()
    today = timezone.localdate()
    first = PriceFactory(product=product, valid_from=today - timedelta(days=30), valid_to=today + timedelta(days=10))
    PriceFactory(product=product, marketplace=first.marketplace, valid_from=today + timedelta(days=10))
    # when: a version is added that starts inside the first one
    response = root.post(
        reverse("admin:marketplace_price_add"),
        _price_form(first, monthly_amount="1.00", valid_from=today.isoformat()),
    )
    # then: the form comes back with the service's reason, and nothing was written
    assert response.status_code == 200
    assert "Overlaps the price valid from" in response.content.decode()
    assert Price.objects.filter(product=product).count() == 2
    first.refresh_from_db()
    assert first.valid_to == today + timedelta(days=10)


def test_the_new_version_action_opens_the_add_form_filled_in_from_the_selected_price(root):
    # given
    price = world().internet_price
    # when
    response = root.post(
        reverse("admin:marketplace_price_changelist"),
        {"action": "start_new_version", "_selected_action": [price.pk]},
        follow=True,
    )
    # then: the add form, with the product, the amounts and a start day of today
    body = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(reverse("admin:marketplace_price_add"))
    assert 'value="399.00"' in body
    assert f'value="{timezone.localdate().isoformat()}"' in body


def test_price_versions_show_read_only_on_their_product_and_are_never_deleted(root):
    # given
    price = world().internet_price
    # when: the product's page, and the price's delete page
    product_page = root.get(reverse("admin:marketplace_product_change", args=[price.product_id])).content.decode()
    delete = root.post(reverse("admin:marketplace_price_delete", args=[price.pk]), {"post": "yes"})
    # then: no price field can be typed into on the product, and the version is still there
    assert "prices-0-monthly_amount" not in product_page
    assert "399.00" in product_page
    assert delete.status_code == 403
    assert Price.objects.filter(pk=price.pk).exists()


def test_retiring_a_price_stops_it_today_through_the_service(root):
    # given
    price = world().internet_price
    # when
    root.post(reverse("admin:marketplace_price_changelist"), {"action": "retire", "_selected_action": [price.pk]})
    # then
    price.refresh_from_db()
    assert price.valid_to == timezone.localdate()


def test_a_product_stays_its_providers(root):
    # given
    product = world().internet
    provider_id = product.provider_id
    other = ProviderFactory(name="Someone else")
    url = reverse("admin:marketplace_product_change", args=[product.pk])
    # when: the change form is posted with another provider
    root.post(
        url,
        {
            "provider": other.pk,
            "category": product.category,
            "name": "Renamed",
            "description": "",
            "download_mbps": product.download_mbps,
            "upload_mbps": product.upload_mbps,
            "service_profile": product.service_profile,
            "requires_category": "",
            "term": product.term_id,
            "prices-TOTAL_FORMS": "0",
            "prices-INITIAL_FORMS": "0",
        },
    )
    # then: the correction is saved, the provider is not changed
    product.refresh_from_db()
    assert (product.name, product.provider_id) == ("Renamed", provider_id)


def test_an_order_is_never_deleted_through_the_admin(root, django_capture_on_commit_callbacks):
    # given: a placed order
    from marketplace import services

    w = world()
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_place(request=w.request())[0]
    url = reverse("admin:marketplace_order_delete", args=[order.pk])
    # when
    page = root.get(url)
    posted = root.post(url, {"post": "yes"})
    # then
    assert (page.status_code, posted.status_code) == (403, 403)
    assert Order.objects.filter(pk=order.pk).exists()
