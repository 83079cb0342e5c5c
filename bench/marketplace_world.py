"""A marketplace over the 1,000,000 search-benchmark addresses: 10 providers, 200 products, 2 marketplaces."""

from datetime import date
from decimal import Decimal

PROVIDERS = 10
PRODUCTS_PER_PROVIDER = 20


def marketplace_world():
    """Create (once) the benchmark marketplace world; returns (marketplaces, providers, products by provider)."""
    from cos.models import Area, Organization
    from marketplace import services
    from marketplace.catalog import catalog_changed
    from marketplace.models import ContractTerm, EligibilityRule, Marketplace, Participation, Price, Product

    area = Area.objects.get(code="BSRCH")
    marketplaces = []
    for slug, segment in (("bench-home", "residential"), ("bench-business", "business")):
        marketplace, created = Marketplace.objects.get_or_create(
            slug=slug,
            defaults={
                "name": slug,
                "segment": segment,
                "currency": "SEK",
                "tax_rate": Decimal("0.25"),
                "requires_installation_window": False,
            },
        )
        if created:
            marketplace.areas.add(area)
        marketplaces.append(marketplace)
    providers, products = [], {}
    for i in range(PROVIDERS):
        provider, _ = Organization.objects.get_or_create(
            slug=f"bench-provider-{i}", defaults={"name": f"Bench provider {i}", "kind": "service_provider"}
        )
        providers.append(provider)
        term, _ = ContractTerm.objects.get_or_create(provider=provider, name="none", defaults={"minimum_months": 0})
        for marketplace in marketplaces:
            Participation.objects.get_or_create(marketplace=marketplace, provider=provider)
        products[provider.pk] = list(Product.objects.filter(provider=provider).order_by("pk"))
        for j in range(len(products[provider.pk]), PRODUCTS_PER_PROVIDER):
            category = ["internet", "tv", "telephony", "value_added"][j % 4]
            product = services.product_save(
                product=Product(
                    provider=provider,
                    category=category,
                    name=f"P{i}-{j}",
                    download_mbps=100 * (j + 1),
                    upload_mbps=100 * (j + 1),
                    service_profile=f"HSI_{j}",
                    requires_category="" if category == "internet" else "internet",
                    term=term,
                )
            )
            for marketplace in marketplaces:
                Price.objects.create(
                    product=product,
                    marketplace=marketplace,
                    monthly_amount=Decimal(300 + j),
                    start_fee=Decimal("0"),
                    currency="SEK",
                    valid_from=date(2026, 1, 1),
                )
            products[provider.pk].append(product)
    # As in real catalogs, an address may have one internet product (this makes availability count per address).
    EligibilityRule.objects.filter(product__provider__in=providers, product__category="internet").update(
        max_per_address=1
    )
    catalog_changed()
    return marketplaces, providers, products
