"""Operator commands of the marketplace, the demo data, and the API documentation."""

import re

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from cos.models import ApiToken
from cos.models.tokens import api_token_hash
from cos.services import membership_grant
from marketplace.models import Marketplace, Participation, Price, Product
from tests.cos.factories import UserFactory
from tests.marketplace.factories import ProviderFactory

pytestmark = pytest.mark.django_db


def _status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/products/").status_code


def test_issue_api_token_prints_the_key_once_and_rotates_it(capsys):
    # given
    user = UserFactory(username="acme-api")
    membership_grant(user=user, organization=ProviderFactory(), role="api")

    # when: issued, asked again, then rotated
    call_command("issue_api_token", "acme-api")
    first = capsys.readouterr().out.strip()
    with pytest.raises(CommandError, match="cannot be printed again"):
        call_command("issue_api_token", "acme-api")
    call_command("issue_api_token", "acme-api", rotate=True)
    rotated = capsys.readouterr().out.strip()

    # then: the key printed first works until the rotation, only the rotated one after it; only hashes are kept
    assert rotated != first
    assert _status(first) == 401
    assert _status(rotated) == 200
    tokens = ApiToken.objects.filter(user=user).order_by("created_at", "pk")
    assert [t.key_hash for t in tokens] == [api_token_hash(first), api_token_hash(rotated)]
    assert [t.revoked_at is not None for t in tokens] == [True, False]


def test_issue_api_token_with_another_name_and_an_expiry(capsys):
    # given
    user = UserFactory(username="acme-api")
    membership_grant(user=user, organization=ProviderFactory(), role="api")
    call_command("issue_api_token", "acme-api")

    # when
    call_command("issue_api_token", "acme-api", name="staging", expires_in_days=30)

    # then: a second active token, which expires
    staging = ApiToken.objects.get(user=user, name="staging")
    assert 29 <= (staging.expires_at - staging.created_at).days <= 30
    assert staging.revoked_at is None
    assert ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() == 2


@pytest.mark.parametrize(("username", "message"), [("nobody", "No user"), ("plain", "belongs to no service provider")])
def test_issue_api_token_refuses_unknown_users_and_non_providers(username, message):
    UserFactory(username="plain")
    with pytest.raises(CommandError, match=message):
        call_command("issue_api_token", username)
    assert not ApiToken.objects.exists()


def test_seed_demo_builds_the_marketplaces_and_prints_a_token_per_provider(capsys):
    call_command("seed_demo", addresses=60)
    out = capsys.readouterr().out
    assert set(Marketplace.objects.values_list("segment", flat=True)) == {"residential", "business", "municipal"}
    # consumers see prices including VAT, businesses net prices
    assert dict(Marketplace.objects.values_list("segment", "prices_include_tax")) == {
        "residential": True,
        "business": False,
        "municipal": True,
    }
    assert Participation.objects.filter(barred_areas__code="EKB").count() == 1
    assert Product.objects.count() == 8
    assert Price.objects.exists()
    printed = dict(re.findall(r"^\s+(\S+-api)\s+(\S{40,})$", out, flags=re.MULTILINE))
    assert len(printed) == 3
    for username, key in printed.items():
        assert ApiToken.objects.get(user__username=username).key_hash == api_token_hash(key)
    call_command("seed_demo", addresses=60)
    again = capsys.readouterr().out
    assert Product.objects.count() == 8
    assert ApiToken.objects.count() == 3
    assert not any(key in again for key in printed.values())  # a key is shown only when it is issued


def test_openapi_schema_and_docs_are_served_without_external_assets(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/orders/", "/api/v1/orders/{id}/accept/", "/api/v1/availability/", "/api/v1/addresses/"):
        assert path in text
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/" in docs
    # every script and stylesheet is served from here (a random nonce may spell "cdn": only addresses count)
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", docs)


def test_openapi_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/v1/orders/{id}/reject/" in (tmp_path / "schema.yml").read_text()
