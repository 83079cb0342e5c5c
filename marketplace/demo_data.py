"""Demo marketplace: three marketplaces, three providers' catalogs, API tokens. Idempotent."""

from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model

from cos.models import AddressObject, ApiToken, Area, Organization
from cos.services import api_token_issue
from marketplace import services
from marketplace.choices import SEGMENTS_WITH_TAX_INCLUDED, BillingCycle, ProductCategory, PromotionKind, Segment
from marketplace.models import ContractTerm, EligibilityRule, Marketplace, Participation, Price, Product, Promotion

TERMS = "Service starts on activation and is billed monthly in advance. Cancel with the notice period of your offer."

MARKETPLACES = [
    # slug, name, segment, areas, takes pre-orders
    ("hem", "FibraNät Hem", Segment.RESIDENTIAL, ["EKB", "SOL"], True),
    ("foretag", "FibraNät Företag", Segment.BUSINESS, ["EKB", "SOL"], False),
    ("kommun", "Kommunnät", Segment.MUNICIPAL, ["SOL"], False),
]
# provider slug -> (marketplace slug, auto-accept, billing cycle, barred area codes)
PARTICIPATIONS = {
    "ljusnet": [("hem", True, BillingCycle.MONTHLY, []), ("foretag", True, BillingCycle.MONTHLY, [])],
    "fiberly": [("hem", False, BillingCycle.ANNIVERSARY, ["EKB"]), ("foretag", True, BillingCycle.MONTHLY, [])],
    "sveaconnect": [("hem", True, BillingCycle.MONTHLY, []), ("kommun", True, BillingCycle.MONTHLY, [])],
}
# provider slug -> products: (name, category, down, up, profile, requires, monthly, start fee, pre-orders?)
CATALOG = {
    "ljusnet": [
        ("Ljusnet 250", ProductCategory.INTERNET, 250, 250, "HSI_250_250", "", "349.00", "0.00", True),
        ("Ljusnet 1000", ProductCategory.INTERNET, 1000, 1000, "HSI_1000_1000", "", "499.00", "495.00", True),
        (
            "Ljusnet TV Bas",
            ProductCategory.TV,
            None,
            None,
            "IPTV_BASIC",
            ProductCategory.INTERNET,
            "199.00",
            "0.00",
            False,
        ),
    ],
    "fiberly": [
        ("Fiberly 500", ProductCategory.INTERNET, 500, 500, "HSI_500_500", "", "379.00", "0.00", False),
        (
            "Fiberly Telefoni",
            ProductCategory.TELEPHONY,
            None,
            None,
            "VOIP_1LINE",
            ProductCategory.INTERNET,
            "49.00",
            "0.00",
            False,
        ),
    ],
    "sveaconnect": [
        ("Svea 100", ProductCategory.INTERNET, 100, 100, "HSI_100_100", "", "299.00", "295.00", True),
        ("Svea 1000 Pro", ProductCategory.INTERNET, 1000, 1000, "HSI_1000_1000", "", "549.00", "0.00", False),
        (
            "Svea Säkerhetspaket",
            ProductCategory.VALUE_ADDED,
            None,
            None,
            "VAS_SECURITY",
            ProductCategory.INTERNET,
            "39.00",
            "0.00",
            False,
        ),
    ],
}
PROMOTIONS = {
    "Ljusnet 1000": ("Halva priset i 3 månader", PromotionKind.PERCENT_OFF, Decimal("50"), 3),
    "Fiberly 500": ("Första månaden gratis", PromotionKind.FREE_MONTHS, Decimal("0"), 1),
}
PRICE_FROM = date(2026, 1, 1)


def seed() -> list[str]:
    areas = {a.code: a for a in Area.objects.all()}
    providers = {o.slug: o for o in Organization.objects.filter(slug__in=PARTICIPATIONS)}
    marketplaces = {}
    for slug, name, segment, area_codes, preorders in MARKETPLACES:
        marketplace, created = Marketplace.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "segment": segment,
                "currency": "SEK",
                "tax_rate": Decimal("0.2500"),
                "prices_include_tax": segment in SEGMENTS_WITH_TAX_INCLUDED,
                "time_zone": "Europe/Stockholm",
                "takes_preorders": preorders,
                "terms_text": TERMS,
            },
        )
        if created:
            marketplace.areas.set([areas[c] for c in area_codes if c in areas])
        marketplaces[slug] = marketplace
    for provider_slug, entries in PARTICIPATIONS.items():
        for marketplace_slug, auto_accept, cycle, barred in entries:
            participation, created = Participation.objects.get_or_create(
                marketplace=marketplaces[marketplace_slug],
                provider=providers[provider_slug],
                defaults={"auto_accept_orders": auto_accept, "billing_cycle": cycle},
            )
            if created:
                participation.barred_areas.set([areas[c] for c in barred if c in areas])
    for provider_slug, products in CATALOG.items():
        _catalog(providers[provider_slug], products, marketplaces, PARTICIPATIONS[provider_slug])
    return []


def finish() -> list[str]:
    providers = {o.slug: o for o in Organization.objects.filter(slug__in=PARTICIPATIONS)}
    return _report(providers)


def _catalog(provider, products, marketplaces, participations) -> None:
    # Svea Connect sells without binding and without notice: its subscribers can leave or switch any day.
    no_notice = provider.slug == "sveaconnect"
    no_binding, _ = ContractTerm.objects.get_or_create(
        provider=provider,
        name="Ingen bindnings- eller uppsägningstid" if no_notice else "Ingen bindningstid",
        defaults={"minimum_months": 0, "notice_days": 0 if no_notice else 30},
    )
    twelve, _ = ContractTerm.objects.get_or_create(
        provider=provider,
        name="12 månader",
        defaults={"minimum_months": 12, "notice_days": 60, "early_termination_fee": Decimal("995.00")},
    )
    for name, category, down, up, profile, requires, monthly, start_fee, preorders in products:
        product = Product.objects.filter(provider=provider, name=name).first()
        if product is None:
            product = services.product_save(
                product=Product(
                    provider=provider,
                    name=name,
                    category=category,
                    download_mbps=down,
                    upload_mbps=up,
                    service_profile=profile,
                    requires_category=requires,
                    term=twelve if start_fee == "0.00" else no_binding,
                    description=f"{down}/{up} Mbit/s symmetrisk fiber" if down else "",
                )
            )
            rule = EligibilityRule.objects.get(product=product)
            rule.customer_types = ["residential", "business", "municipal"]
            rule.address_statuses = ["connected", "in_deployment"] if preorders else ["connected"]
            rule.max_per_address = 1
            services.eligibility_save(rule=rule)
        for marketplace_slug, *_ in participations:
            marketplace = marketplaces[marketplace_slug]
            if not Price.objects.filter(product=product, marketplace=marketplace).exists():
                services.price_save(
                    price=Price(
                        product=product,
                        marketplace=marketplace,
                        monthly_amount=Decimal(monthly),
                        start_fee=Decimal(start_fee),
                        currency=marketplace.currency,
                        valid_from=PRICE_FROM,
                    )
                )
        if name in PROMOTIONS and not product.promotions.exists():
            title, kind, value, periods = PROMOTIONS[name]
            services.promotion_save(
                promotion=Promotion(
                    product=product,
                    name=title,
                    kind=kind,
                    value=value,
                    periods=periods,
                    valid_from=PRICE_FROM,
                )
            )


def _report(providers) -> list[str]:
    lines = ["Provider API tokens (header 'Authorization: Token <key>'; a key is shown only when it is issued):"]
    users = get_user_model().objects.filter(username__in=[f"{slug}-api" for slug in providers])
    for user in users.order_by("username"):
        held = ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at").first()
        if held is None:
            _, key = api_token_issue(user=user, name="demo")
            lines.append(f"  {user.username:<18} {key}")
        else:
            lines.append(
                f"  {user.username:<18} {held.prefix}... (issued earlier: "
                f"'manage.py issue_api_token {user.username} --rotate' prints a new one)"
            )
    demo_areas = {code for *_, codes, _ in MARKETPLACES for code in codes}  # not a simulated history's area
    homes = AddressObject.objects.filter(area__code__in=demo_areas).order_by("external_id")
    connected = homes.filter(status="connected").first()
    deploying = homes.filter(status="in_deployment").first()
    if connected:
        lines.append(
            f"Try ordering at a connected address: search '{connected.street} {connected.house_number}' "
            f"on the start page ({connected.label})."
        )
    if deploying:
        lines.append(
            f"Pre-order at an address in deployment: '{deploying.street} {deploying.house_number}' ({deploying.label})."
        )
    return lines
