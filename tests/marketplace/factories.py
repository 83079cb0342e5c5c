"""Factories for the marketplace, and `world()`: a small marketplace where one can order."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from cos.choices import AddressStatus, AreaStatus, OrganizationKind
from marketplace.choices import Channel, ProductCategory
from marketplace.models import ContractTerm, EligibilityRule, Marketplace, Participation, Price, Product, Promotion
from marketplace.validation import LineRequest, OrderRequest
from tests.cos.factories import AddressFactory, AreaFactory, CustomerFactory, OrganizationFactory


class ProviderFactory(OrganizationFactory):
    kind = OrganizationKind.SERVICE_PROVIDER


class MarketplaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Marketplace
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Marketplace {n}")
    slug = factory.Sequence(lambda n: f"mp-{n}")
    segment = "residential"
    currency = "SEK"
    tax_rate = Decimal("0.2500")
    # Net prices with VAT added, whatever the segment: the billing tests' figures are net; prices including VAT
    # are tested on marketplaces that say so.
    prices_include_tax = False
    requires_installation_window = False

    @factory.post_generation
    def areas(self, create, extracted, **kwargs):
        if create and extracted:
            self.areas.set(extracted)


class ParticipationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participation

    marketplace = factory.SubFactory(MarketplaceFactory)
    provider = factory.SubFactory(ProviderFactory)


class ContractTermFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContractTerm

    provider = factory.SubFactory(ProviderFactory)
    name = factory.Sequence(lambda n: f"Term {n}")
    minimum_months = 12
    notice_days = 30


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True

    provider = factory.SubFactory(ProviderFactory)
    category = ProductCategory.INTERNET
    name = factory.Sequence(lambda n: f"Fiber {n}")
    download_mbps = 1000
    upload_mbps = 1000
    service_profile = "HSI_1000_1000"
    term = factory.SubFactory(ContractTermFactory, provider=factory.SelfAttribute("..provider"))

    @factory.post_generation
    def rule(self, create, extracted, **kwargs):
        if create:
            EligibilityRule.objects.get_or_create(product=self, defaults=kwargs)


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Price

    product = factory.SubFactory(ProductFactory)
    marketplace = factory.SubFactory(MarketplaceFactory)
    monthly_amount = Decimal("399.00")
    start_fee = Decimal("495.00")
    currency = factory.SelfAttribute("marketplace.currency")
    valid_from = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Through the catalog's service: a later version closes the open-ended one, as it does for a provider.
        from marketplace.services import price_save

        return price_save(price=model_class(*args, **kwargs))


class PromotionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Promotion

    product = factory.SubFactory(ProductFactory)
    name = "Half price"
    kind = "percent_off"
    value = Decimal("50")
    periods = 3
    valid_from = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=1))


@dataclass
class World:
    area: object
    address: object
    marketplace: object
    provider: object
    participation: object
    internet: object
    internet_price: object
    tv: object
    tv_price: object
    customer: object

    def request(self, *products, **overrides) -> OrderRequest:
        """An order request for the given products (default: the internet product) at today's prices."""
        products = products or (self.internet,)
        lines = []
        for product in products:
            price = product.prices.filter(marketplace=self.marketplace).order_by("-valid_from").first()
            lines.append(LineRequest(product.pk, price.monthly_amount, price.currency))
        values = {
            "customer": self.customer,
            "address_id": self.address.pk,
            "marketplace_id": self.marketplace.pk,
            "provider_id": self.provider.pk,
            "lines": lines,
            "channel": Channel.PORTAL,
            "terms_accepted": True,
            "install_date": timezone.localdate() + timedelta(days=7),
        }
        values.update(overrides)
        return OrderRequest(**values)


def world(*, address_status=AddressStatus.CONNECTED, auto_accept=True, takes_preorders=False) -> World:
    area = AreaFactory(status=AreaStatus.IN_DEPLOYMENT)
    address = AddressFactory(area=area, status=address_status)
    marketplace = MarketplaceFactory(areas=[area], takes_preorders=takes_preorders)
    provider = ProviderFactory()
    participation = ParticipationFactory(marketplace=marketplace, provider=provider, auto_accept_orders=auto_accept)
    internet = ProductFactory(provider=provider, name="Fiber 1000")
    internet_price = PriceFactory(product=internet, marketplace=marketplace)
    tv = ProductFactory(
        provider=provider,
        name="TV Bas",
        category=ProductCategory.TV,
        download_mbps=None,
        upload_mbps=None,
        service_profile="IPTV",
        requires_category=ProductCategory.INTERNET,
    )
    tv_price = PriceFactory(
        product=tv, marketplace=marketplace, monthly_amount=Decimal("199.00"), start_fee=Decimal("0")
    )
    return World(
        area, address, marketplace, provider, participation, internet, internet_price, tv, tv_price, CustomerFactory()
    )


def days_from_today(n: int) -> date:
    return timezone.localdate() + timedelta(days=n)
