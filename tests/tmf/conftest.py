"""TMF tests: every response checked against TM Forum's own definitions (tmf/specs/)."""

import pytest

from tmf.conformance import problems

# The definition each resource's representation conforms to, by API.
RESOURCES = {
    "productOffering": ("productCatalogManagement", "ProductOffering"),
    "productSpecification": ("productCatalogManagement", "ProductSpecification"),
    "productOfferingPrice": ("productCatalogManagement", "ProductOfferingPrice"),
    "productOfferingQualification": ("productOfferingQualification", "ProductOfferingQualification"),
    "productOrder": ("productOrderingManagement", "ProductOrder"),
    "cancelProductOrder": ("productOrderingManagement", "CancelProductOrder"),
    "service": ("serviceInventory", "Service"),
    "customerBill": ("customerBillManagement", "CustomerBill"),
}


def conforming(response, resource: str, *, many: bool = False):
    """The JSON of a TMF response, after checking it against its definition (each item of a list, and the list's
    count headers)."""
    api, definition = RESOURCES[resource]
    body = response.json()
    items = body if many else [body]
    if many:
        assert isinstance(body, list)
        assert response["X-Result-Count"] == str(len(body))
        assert int(response["X-Total-Count"]) >= len(body)
    for item in items:
        found = problems(api, definition, item)
        assert not found, f"{resource} does not conform to {definition}: {found}"
    return body


def tmf_error(response, status: int, code: str) -> dict:
    body = response.json()
    assert response.status_code == status, body
    assert not problems("productOrderingManagement", "Error", body), body
    assert body["code"] == code, body
    return body


@pytest.fixture
def check():
    return conforming
