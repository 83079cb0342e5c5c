"""Operator commands of the marketplace, the demo data, and the API documentation."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from cos.services import membership_grant
from marketplace.models import Marketplace, Participation, Price, Product
from tests.cos.factories import UserFactory
from tests.marketplace.factories import ProviderFactory

pytestmark = pytest.mark.django_db


def test_issue_api_token_prints_the_providers_token_and_rotates_it(capsys):
    # given
    user = UserFactory(username="acme-api")
    membership_grant(user=user, organization=ProviderFactory(), role="api")
    # when
    call_command("issue_api_token", "acme-api")
    first = capsys.readouterr().out.strip()
    call_command("issue_api_token", "acme-api")
    again = capsys.readouterr().out.strip()
    assert first == again == Token.objects.get(user=user).key
    call_command("issue_api_token", "acme-api", rotate=True)
    rotated = capsys.readouterr().out.strip()
    # then
    assert rotated != first
    assert list(Token.objects.filter(user=user).values_list("key", flat=True)) == [rotated]


@pytest.mark.parametrize(("username", "message"), [("nobody", "No user"), ("plain", "belongs to no service provider")])
def test_issue_api_token_refuses_unknown_users_and_non_providers(username, message):
    UserFactory(username="plain")
    with pytest.raises(CommandError, match=message):
        call_command("issue_api_token", username)
    assert not Token.objects.exists()


def test_seed_demo_builds_the_marketplaces_and_prints_a_token_per_provider(capsys):
    call_command("seed_demo", addresses=60)
    out = capsys.readouterr().out
    assert set(Marketplace.objects.values_list("segment", flat=True)) == {"residential", "business", "municipal"}
    assert Participation.objects.filter(barred_areas__code="EKB").count() == 1
    assert Product.objects.count() == 8
    assert Price.objects.exists()
    for token in Token.objects.all():
        assert token.key in out
    assert Token.objects.count() == 3
    call_command("seed_demo", addresses=60)
    assert Product.objects.count() == 8
    assert Token.objects.count() == 3


def test_openapi_schema_and_docs_are_served_without_external_assets(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/orders/", "/api/v1/orders/{id}/accept/", "/api/v1/availability/", "/api/v1/addresses/"):
        assert path in text
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/" in docs
    assert "cdn" not in docs.lower()


def test_openapi_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/v1/orders/{id}/reject/" in (tmp_path / "schema.yml").read_text()
