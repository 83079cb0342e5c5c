"""The provider API's OpenAPI schema: valid, and every operation documents its success and its errors, each error in
the one envelope."""

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from cos.api import urls as api_urls

METHODS = ("get", "put", "post", "patch", "delete")
ENVELOPE = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def test_the_schema_is_valid_openapi(schema):
    # when / then: raises on a document that breaks the OpenAPI 3 specification
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_every_operation_documents_a_success_and_401(schema):
    # when
    missing_success = [name for name, op in operations(schema) if not any(c.startswith("2") for c in op["responses"])]
    missing_401 = [name for name, op in operations(schema) if "401" not in op["responses"]]

    # then
    assert list(operations(schema)), "the schema has no operation"
    assert not missing_success, f"no 2xx response: {missing_success}"
    assert not missing_401, f"no 401 response: {missing_401}"


def test_every_error_response_is_the_error_envelope(schema):
    # given
    envelope = schema["components"]["schemas"]["Error"]

    # when
    not_envelope = [
        f"{name} {code}"
        for name, op in operations(schema)
        for code, response in op["responses"].items()
        if code[0] in "45"
        and response.get("content", {}).get("application/json", {}).get("schema")
        != {"$ref": "#/components/schemas/Error"}
    ]

    # then
    assert set(envelope["required"]) == {"code", "message"}
    assert not not_envelope, not_envelope


def test_operations_on_one_resource_document_404_and_commands_409(schema):
    # when
    by_name = dict(operations(schema))

    # then
    assert all("404" in op["responses"] for name, op in by_name.items() if "{" in name)
    assert "409" in by_name["POST /api/v1/orders/{id}/accept/"]["responses"]
    assert "409" in by_name["POST /api/v1/orders/"]["responses"]  # an Idempotency-Key used for another request
    assert "409" in by_name["POST /api/v1/subscriptions/{id}/terminate/"]["responses"]


def test_every_route_of_the_one_router_is_in_the_schema(schema):
    # given
    documented = {path.rstrip("/") for path in schema["paths"]}

    # when: each route and each other path of the provider API, as the schema writes it
    routed = set()
    for pattern in [*api_urls.router.urls, *api_urls.extra_patterns]:
        kwargs = {"pk": 0} if "pk" in pattern.pattern.regex.groupindex else {}
        routed.add(reverse(pattern.name, kwargs=kwargs).replace("/0", "/{id}").rstrip("/"))

    # then
    assert routed
    assert routed <= documented, routed - documented


@pytest.mark.django_db
def test_the_schema_is_served_as_json():
    # when
    response = APIClient().get("/api/schema/?format=json")

    # then
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "COS provider API"
