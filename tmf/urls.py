"""/tmf-api/: the TM Forum Open APIs v4 (tmf/specs/), each under its base path."""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, JsonResponse
from django.urls import path
from drf_spectacular.views import SpectacularSwaggerView

from tmf import catalog, events, inventory, ordering
from tmf.common import BASES
from tmf.conformance import FILES, spec


def specification(request, name: str):
    """A TM Forum specification as published, with this server as its host (for /api/docs/'s "Try it out")."""
    api = next((api for api, file in FILES.items() if file == name), None)
    if api is None:
        raise Http404(name)
    document = dict(spec(api))
    site = urlsplit(settings.SITE_URL)
    document["host"] = request.get_host() or site.netloc
    document["schemes"] = [request.scheme]
    document["basePath"] = BASES[api]
    document["securityDefinitions"] = {"token": {"type": "apiKey", "in": "header", "name": "Authorization"}}
    document["security"] = [{"token": []}]
    return JsonResponse(document)


def _base(api: str) -> str:
    return BASES[api].removeprefix("/tmf-api/") + "/"


def _hub(api: str) -> list:
    base = _base(api)
    return [
        path(f"{base}hub", events.Hub.as_view(api=api), name=f"tmf-{api}-hub"),
        path(f"{base}hub/<str:pk>", events.HubDetail.as_view(api=api), name=f"tmf-{api}-hub-detail"),
    ]


CATALOG, POQ, ORDERING, SERVICES, BILLS = (
    "productCatalogManagement",
    "productOfferingQualification",
    "productOrderingManagement",
    "serviceInventory",
    "customerBillManagement",
)

DOCS = {name.split("-")[0]: name for name in FILES.values()}  # TMF622 -> its specification's file

urlpatterns = [
    path("specs/<str:name>", specification, name="tmf-spec"),
    *(
        path(f"docs/{number}/", SpectacularSwaggerView.as_view(url=f"/tmf-api/specs/{file}"), name=f"tmf-docs-{number}")
        for number, file in DOCS.items()
    ),
    path(f"{_base(CATALOG)}productOffering", catalog.OfferingList.as_view(api=CATALOG), name="tmf-offering-list"),
    path(
        f"{_base(CATALOG)}productOffering/<str:pk>",
        catalog.OfferingDetail.as_view(api=CATALOG),
        name="tmf-offering-detail",
    ),
    path(
        f"{_base(CATALOG)}productSpecification",
        catalog.SpecificationList.as_view(api=CATALOG),
        name="tmf-specification-list",
    ),
    path(
        f"{_base(CATALOG)}productSpecification/<str:pk>",
        catalog.SpecificationDetail.as_view(api=CATALOG),
        name="tmf-specification-detail",
    ),
    path(f"{_base(CATALOG)}productOfferingPrice", catalog.PriceList.as_view(api=CATALOG), name="tmf-price-list"),
    path(
        f"{_base(CATALOG)}productOfferingPrice/<str:pk>",
        catalog.PriceDetail.as_view(api=CATALOG),
        name="tmf-price-detail",
    ),
    path(
        f"{_base(POQ)}productOfferingQualification",
        catalog.QualificationList.as_view(api=POQ),
        name="tmf-qualification-list",
    ),
    path(
        f"{_base(POQ)}productOfferingQualification/<str:pk>",
        catalog.QualificationDetail.as_view(api=POQ),
        name="tmf-qualification-detail",
    ),
    path(f"{_base(ORDERING)}productOrder", ordering.ProductOrderList.as_view(api=ORDERING), name="tmf-order-list"),
    path(
        f"{_base(ORDERING)}productOrder/<str:pk>",
        ordering.ProductOrderDetail.as_view(api=ORDERING),
        name="tmf-order-detail",
    ),
    path(f"{_base(ORDERING)}cancelProductOrder", ordering.CancelList.as_view(api=ORDERING), name="tmf-cancel-list"),
    path(
        f"{_base(ORDERING)}cancelProductOrder/<str:pk>",
        ordering.CancelDetail.as_view(api=ORDERING),
        name="tmf-cancel-detail",
    ),
    path(f"{_base(SERVICES)}service", inventory.ServiceList.as_view(api=SERVICES), name="tmf-service-list"),
    path(
        f"{_base(SERVICES)}service/<str:pk>", inventory.ServiceDetail.as_view(api=SERVICES), name="tmf-service-detail"
    ),
    path(f"{_base(BILLS)}customerBill", inventory.BillList.as_view(api=BILLS), name="tmf-bill-list"),
    path(f"{_base(BILLS)}customerBill/<str:pk>", inventory.BillDetail.as_view(api=BILLS), name="tmf-bill-detail"),
    *(pattern for api in BASES for pattern in _hub(api)),
]
