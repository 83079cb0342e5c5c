"""The TM Forum specifications in tmf/specs/, as JSON Schema validators of their definitions: every /tmf-api/
response is checked against them in the tests (and can be here: `problems(api, "ProductOrder", body)`)."""

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPECS = Path(__file__).resolve().parent / "specs"
FILES = {
    "productCatalogManagement": "TMF620-ProductCatalog-v4.1.0.swagger.json",
    "productOfferingQualification": "TMF679-ProductOfferingQualification-v4.0.0.swagger.json",
    "productOrderingManagement": "TMF622-ProductOrder-v4.0.0.swagger.json",
    "serviceInventory": "TMF638-ServiceInventory-v4.0.0.swagger.json",
    "customerBillManagement": "TMF678-CustomerBill-v4.0.0.swagger.json",
}


@cache
def spec(api: str) -> dict:
    return json.loads((SPECS / FILES[api]).read_text())


@cache
def _registry(api: str) -> Registry:
    return Registry().with_resource(f"urn:tmf:{api}", Resource(contents=spec(api), specification=DRAFT4))


@cache
def validator(api: str, definition: str) -> Draft4Validator:
    if definition not in spec(api)["definitions"]:
        raise KeyError(f"{api} defines no {definition}")
    return Draft4Validator({"$ref": f"urn:tmf:{api}#/definitions/{definition}"}, registry=_registry(api))


def problems(api: str, definition: str, instance) -> list[str]:
    """What in `instance` breaks the definition (empty: it conforms)."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator(api, definition).iter_errors(instance)
    ]


@cache
def required_of(type_name: str) -> frozenset[str]:
    """The properties TM Forum requires of a resource type (kept by a `fields=` selection)."""
    for api in FILES:
        definition = spec(api)["definitions"].get(type_name)
        if definition is not None:
            return frozenset(definition.get("required", ()))
    return frozenset()
