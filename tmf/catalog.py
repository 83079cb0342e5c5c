"""TMF620 Product Catalog (read) and TMF679 Product Offering Qualification, over the marketplace's catalog and its
availability rules: your products as product offerings (one per product), their specifications (speeds, profile)
and their prices per marketplace; which of your offerings can be ordered at an address, and why not."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from cos.choices import CustomerType
from cos.errors import NotFound
from cos.models import AddressObject
from marketplace.models import Price, Product
from marketplace.selectors import candidates_at_address
from tmf.common import TmfError, TmfView, href, iso, money, tmf_list, tmf_one
from tmf.models import Qualification

CATALOG = "productCatalogManagement"
POQ = "productOfferingQualification"


def _products(provider):
    return (
        Product.objects.filter(provider=provider)
        .select_related("term")
        .prefetch_related("prices__marketplace")
        .order_by("pk")
    )


def price_item(price: Price) -> dict:
    item = {
        "id": str(price.pk),
        "href": href(CATALOG, "productOfferingPrice", price.pk),
        "name": f"{price.product.name} in {price.marketplace.name}",
        "priceType": "recurring",
        "recurringChargePeriodType": "month",
        "recurringChargePeriodLength": 1,
        "price": money(price.monthly_amount, price.currency),
        "lifecycleStatus": "Active" if price.valid_to is None or price.valid_to >= timezone.localdate() else "Retired",
        "validFor": {
            "startDateTime": iso_day(price.valid_from),
            **({"endDateTime": iso_day(price.valid_to)} if price.valid_to else {}),
        },
        "place": [{"id": str(price.marketplace_id), "name": price.marketplace.name, "role": "marketplace"}],
        "@type": "ProductOfferingPrice",
    }
    return item


def iso_day(day) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def offering(product: Product) -> dict:
    prices = sorted(product.prices.all(), key=lambda p: (p.marketplace_id, p.valid_from))
    return {
        "id": str(product.pk),
        "href": href(CATALOG, "productOffering", product.pk),
        "name": product.name,
        "description": product.description,
        "isBundle": False,
        "isSellable": product.retired_at is None,
        "lifecycleStatus": "Retired" if product.retired_at else "Launched",
        "category": [{"id": product.category, "name": product.get_category_display()}],
        "productSpecification": {
            "id": str(product.pk),
            "href": href(CATALOG, "productSpecification", product.pk),
            "name": product.name,
        },
        "productOfferingPrice": [
            {"id": str(p.pk), "href": href(CATALOG, "productOfferingPrice", p.pk), "name": p.marketplace.name}
            for p in prices
        ],
        "productOfferingTerm": [
            {
                "name": product.term.name,
                "duration": {"amount": product.term.minimum_months, "units": "month"},
                "description": f"notice {product.term.notice_days} days",
            }
        ],
        "@type": "ProductOffering",
    }


def specification(product: Product) -> dict:
    characteristics = [
        ("downloadMbps", "integer", product.download_mbps),
        ("uploadMbps", "integer", product.upload_mbps),
        ("serviceProfile", "string", product.service_profile),
    ]
    return {
        "id": str(product.pk),
        "href": href(CATALOG, "productSpecification", product.pk),
        "name": product.name,
        "description": product.description,
        "isBundle": False,
        "lifecycleStatus": "Retired" if product.retired_at else "Launched",
        "productSpecCharacteristic": [
            {
                "name": name,
                "valueType": kind,
                "configurable": False,
                "productSpecCharacteristicValue": [{"value": value, "isDefault": True, "valueType": kind}],
            }
            for name, kind, value in characteristics
            if value is not None and value != ""
        ],
        "@type": "ProductSpecification",
    }


class OfferingList(TmfView):
    def get(self, request):
        return tmf_list(request, [offering(p) for p in _products(request.provider)])


class OfferingDetail(TmfView):
    def get(self, request, pk: str):
        return tmf_one(request, offering(_own(_products(request.provider), pk)))


class SpecificationList(TmfView):
    def get(self, request):
        return tmf_list(request, [specification(p) for p in _products(request.provider)])


class SpecificationDetail(TmfView):
    def get(self, request, pk: str):
        return tmf_one(request, specification(_own(_products(request.provider), pk)))


def _prices(provider):
    return Price.objects.filter(product__provider=provider).select_related("product", "marketplace").order_by("pk")


class PriceList(TmfView):
    def get(self, request):
        return tmf_list(request, [price_item(p) for p in _prices(request.provider)])


class PriceDetail(TmfView):
    def get(self, request, pk: str):
        return tmf_one(request, price_item(_own(_prices(request.provider), pk)))


def _own(queryset, pk: str):
    if not str(pk).isdigit():
        raise NotFound(f"No such resource of yours: {pk}.")
    return get_object_or_404(queryset, pk=int(pk))


# --- TMF679 ----------------------------------------------------------------------------------------------------------


def _place(body: dict) -> AddressObject:
    """The address of the qualification: a place whose id is an address's id, or one given by street, number,
    postcode and city (as the address search finds it)."""
    places = body.get("place") or []
    if not isinstance(places, list) or not places or not isinstance(places[0], dict):
        raise TmfError(
            'Give the address as place: [{"id": <address id>, "role": "installationAddress"}].', code="place_required"
        )
    place = places[0]
    if place.get("id") is not None:
        if not str(place["id"]).isdigit():
            raise TmfError("place.id is an address id (a whole number).", code="invalid")
        found = AddressObject.objects.filter(pk=int(place["id"])).first()
    else:
        number = str(place.get("streetNr", "")).strip()
        found = AddressObject.objects.filter(
            street__iexact=str(place.get("streetName", "")).strip(),
            house_number=int(number) if number.isdigit() and len(number) < 9 else -1,
            postal_code=str(place.get("postcode", "")).replace(" ", ""),
            city__iexact=str(place.get("city", "")).strip(),
        ).first()
    if found is None:
        raise TmfError("No such address.", code="address_not_found")
    return found


def qualify(*, provider, body: dict) -> dict:
    """Each asked-for offering (or every offering of yours) at the address: qualified, or unqualified with each
    reason (the marketplace's eligibility rules, or not sold there)."""
    if not isinstance(body, dict):
        raise TmfError("The body is a ProductOfferingQualification object.", code="invalid")
    address = _place(body)
    customer_type = (
        CustomerType.BUSINESS if body.get("category", {}).get("id") == "business" else CustomerType.RESIDENTIAL
    )
    candidates = candidates_at_address(address=address, customer_type=customer_type, provider_ids={provider.pk})
    by_product: dict[int, list] = {}
    for candidate in candidates:
        by_product.setdefault(candidate.product.pk, []).append(candidate)
    asked = body.get("productOfferingQualificationItem") or []
    if not isinstance(asked, list):
        raise TmfError("productOfferingQualificationItem is a list.", code="invalid")
    products = {p.pk: p for p in Product.objects.filter(provider=provider, retired_at__isnull=True)}
    if asked:
        wanted = []
        for index, item in enumerate(asked):
            ref = (item or {}).get("productOffering") if isinstance(item, dict) else None
            product_id = str((ref or {}).get("id", ""))
            wanted.append((str(item.get("id") or index + 1) if isinstance(item, dict) else str(index + 1), product_id))
    else:
        wanted = [(str(n), str(pk)) for n, pk in enumerate(sorted(products), start=1)]
    items = []
    for item_id, product_id in wanted:
        product = products.get(int(product_id)) if product_id.isdigit() else None
        entry = {"id": item_id, "state": "done", "@type": "ProductOfferingQualificationItem"}
        if product is None:
            entry.update(
                qualificationItemResult="unqualified",
                productOffering={"id": product_id or "?"},
                eligibilityUnavailabilityReason=[{"code": "product_not_found", "label": "No such offering of yours."}],
            )
            items.append(entry)
            continue
        entry["productOffering"] = {
            "id": str(product.pk),
            "href": href(CATALOG, "productOffering", product.pk),
            "name": product.name,
        }
        found = by_product.get(product.pk, [])
        good = [c for c in found if not c.problems]
        if good:
            entry["qualificationItemResult"] = "qualified"
            entry["product"] = {
                "productPrice": [
                    {
                        "name": c.marketplace.name,
                        "priceType": "recurring",
                        "recurringChargePeriod": "month",
                        "price": {"taxIncludedAmount": money(c.price.monthly_amount, c.price.currency)},
                    }
                    for c in good
                ],
                "@type": "Product",
            }
            if good[0].is_preorder:
                entry["note"] = [{"id": "1", "text": "pre-order: the fibre is being built at the address"}]
        else:
            reasons = [{"code": code, "label": label} for c in found for code, label in c.problems] or [
                {"code": "not_sold_here", "label": "Not offered in a marketplace that covers this address."}
            ]
            entry.update(qualificationItemResult="unqualified", eligibilityUnavailabilityReason=reasons)
        items.append(entry)
    results = {i["qualificationItemResult"] for i in items}
    return {
        "state": "done",
        "qualificationResult": "qualified"
        if results == {"qualified"}
        else ("unqualified" if "qualified" not in results else "partial"),
        "place": [
            {"id": str(address.pk), "name": address.label, "role": "installationAddress", "@type": "GeographicAddress"}
        ],
        "productOfferingQualificationItem": items,
        "provideUnavailabilityReason": True,
        "instantSyncQualification": True,
    }


def qualification_item(row: Qualification) -> dict:
    return {
        "id": str(row.pk),
        "href": href(POQ, "productOfferingQualification", row.pk),
        "productOfferingQualificationDate": iso(row.created_at),
        "effectiveQualificationDate": iso(row.created_at),
        **row.result,
        "@type": "ProductOfferingQualification",
    }


class QualificationList(TmfView):
    def get(self, request):
        rows = Qualification.objects.filter(provider=request.provider).order_by("-pk")
        return tmf_list(request, [qualification_item(r) for r in rows])

    def post(self, request):
        result = qualify(provider=request.provider, body=request.data)
        row = Qualification.objects.create(provider=request.provider, result=result)
        return Response(qualification_item(row), status=status.HTTP_201_CREATED)


class QualificationDetail(TmfView):
    def get(self, request, pk: str):
        return tmf_one(request, qualification_item(_own(Qualification.objects.filter(provider=request.provider), pk)))
