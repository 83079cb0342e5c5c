"""The TM Forum APIs fuzzed by schemathesis against TM Forum's own specifications (as /tmf-api/specs/ serves them,
with this server as host): every operation COS implements, with valid and invalid data. No server error, and every
answer as the specification documents it: its status, and a body that conforms (a resource, or TMF's Error).
Bounded as tests/cos/test_api_fuzz.py is (COS_FUZZ_MAX_EXAMPLES, COS_FUZZ_SEED)."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from cos.services import api_token_issue, membership_grant
from cos.wsgi import application
from tests.cos.factories import UserFactory
from tests.cos.test_api_fuzz import as_a_server, rolled_back
from tests.marketplace.factories import world
from tests.tmf.test_resources import _seed
from tmf.conformance import FILES

MAX_EXAMPLES = int(os.environ.get("COS_FUZZ_MAX_EXAMPLES", "10"))
SEED = int(os.environ.get("COS_FUZZ_SEED", "20261201"))
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none", "allow-x00": False},
        # TM Forum's schemas are open (any extra property, no required fields on a create): a body the schema
        # allows may still lack what the order needs, and the specifications type every id as any string.
        "checks": {
            "enabled": True,
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"enabled": False},
            # the catalog is read-only here (TMF620's POST, PATCH, DELETE answer 405, as the Allow header says)
            "unsupported_method": {"enabled": False},
            "allow_header_conformance": {"enabled": False},
        },
    }
)
# The operations COS implements, by specification: (method, path) under each base path.
IMPLEMENTED = {
    "productCatalogManagement": [
        ("GET", "/productOffering"),
        ("GET", "/productOffering/{id}"),
        ("GET", "/productSpecification"),
        ("GET", "/productSpecification/{id}"),
        ("GET", "/productOfferingPrice"),
        ("GET", "/productOfferingPrice/{id}"),
        ("POST", "/hub"),
        ("DELETE", "/hub/{id}"),
    ],
    "productOfferingQualification": [
        ("GET", "/productOfferingQualification"),
        ("POST", "/productOfferingQualification"),
        ("GET", "/productOfferingQualification/{id}"),
        ("POST", "/hub"),
    ],
    "productOrderingManagement": [
        ("GET", "/productOrder"),
        ("POST", "/productOrder"),
        ("GET", "/productOrder/{id}"),
        ("GET", "/cancelProductOrder"),
        ("POST", "/cancelProductOrder"),
        ("GET", "/cancelProductOrder/{id}"),
        ("POST", "/hub"),
        ("DELETE", "/hub/{id}"),
    ],
    "serviceInventory": [("GET", "/service"), ("GET", "/service/{id}"), ("POST", "/hub")],
    "customerBillManagement": [("GET", "/customerBill"), ("GET", "/customerBill/{id}"), ("POST", "/hub")],
}
TOKEN = {"key": ""}


def _schema(api: str):
    loaded = schemathesis.openapi.from_wsgi(f"/tmf-api/specs/{FILES[api]}", application, config=CONFIG)
    wanted = IMPLEMENTED[api]
    return loaded.include(func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in wanted)


SCHEMAS = {api: _schema(api) for api in IMPLEMENTED}


class ProviderToken:
    """Every request carries the seeded provider's token (the auth checks swap in invalid ones, or none)."""

    def get(self, case, context):
        return TOKEN["key"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


for _loaded in SCHEMAS.values():
    _loaded.auth(refresh_interval=None)(ProviderToken)


@pytest.fixture
def seeded(db, settings):
    settings.API_BAD_KEY_LIMIT = 0
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False  # a fuzzed callback reaches no host on this machine
    w = world()
    _seed(w)
    user = UserFactory()
    membership_grant(user=user, organization=w.provider, role="api")
    TOKEN["key"] = api_token_issue(user=user, name="fuzz")[1]
    with as_a_server():
        yield w


def _run(case):
    with rolled_back():
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance, negative_data_rejection])
    if response.status_code >= 400 and response.content:
        body = response.json()
        assert {"code", "reason", "status"} <= set(body), body
        assert body["status"] == str(response.status_code)


def _test_for(api: str):
    @SCHEMAS[api].parametrize()
    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
    def test(case, seeded):
        _run(case)

    return test


test_product_catalog = _test_for("productCatalogManagement")
test_product_offering_qualification = _test_for("productOfferingQualification")
test_product_ordering = _test_for("productOrderingManagement")
test_service_inventory = _test_for("serviceInventory")
test_customer_bill = _test_for("customerBillManagement")
