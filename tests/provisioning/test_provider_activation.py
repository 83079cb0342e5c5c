"""Open access, two layers: a provider that activates its own services does so through the API, only for its
own services and only once the infrastructure at the address is ready."""

import pytest
import requests
from rest_framework.test import APIClient

from cos.services import api_token_issue, membership_grant
from provisioning.choices import JobStatus, ServiceStatus
from provisioning.models import ProvisioningJob, ServiceInstance
from tests.cos.factories import UserFactory
from tests.provisioning.conftest import request_provisioning as _request_provisioning

pytestmark = pytest.mark.django_db


def _client(provider) -> APIClient:
    user = UserFactory()
    membership_grant(user=user, organization=provider, role="api")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + api_token_issue(user=user, name="test")[1])
    return client


@pytest.fixture
def self_activating(ordered, django_capture_on_commit_callbacks):
    """A connected address where the provider activates its own services; the technician's trigger has run."""
    w, ont, service = ordered()
    w.participation.activates_services_itself = True
    w.participation.save()
    _request_provisioning(w, django_capture_on_commit_callbacks)
    return w, service


def test_the_technicians_trigger_leaves_a_self_activating_providers_service_alone(self_activating):
    w, service = self_activating
    service.refresh_from_db()
    assert service.status == ServiceStatus.PENDING
    assert not ProvisioningJob.objects.exists()


def test_the_provider_activates_its_own_service_once_the_infrastructure_is_ready(
    self_activating, django_capture_on_commit_callbacks
):
    # given
    w, service = self_activating
    client = _client(w.provider)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/services/{service.pk}/activate/")
    # then
    assert response.status_code == 202, response.content
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    assert ProvisioningJob.objects.get().status == JobStatus.SUCCEEDED
    listed = client.get("/api/v1/services/").json()["results"]
    assert [(row["id"], row["status"]) for row in listed] == [(service.pk, "active")]


def test_not_before_the_infrastructure_is_ready(self_activating):
    w, service = self_activating
    w.address.__class__.objects.filter(pk=w.address.pk).update(status="in_deployment")
    response = _client(w.provider).post(f"/api/v1/services/{service.pk}/activate/")
    assert response.status_code == 409
    assert response.json()["code"] == "infrastructure_not_ready"
    assert not ProvisioningJob.objects.exists()


def test_a_provider_activated_automatically_cannot_use_it(ordered):
    w, ont, service = ordered()
    response = _client(w.provider).post(f"/api/v1/services/{service.pk}/activate/")
    assert response.status_code == 409
    assert response.json()["code"] == "activated_automatically"


def test_another_providers_service_is_not_found_and_nothing_changes(self_activating, ordered, simulator):
    # given: provider B has its own world
    w, service = self_activating
    other, _, _ = ordered()
    client = _client(other.provider)
    # when / then
    assert client.get(f"/api/v1/services/{service.pk}/").status_code == 404
    response = client.post(f"/api/v1/services/{service.pk}/activate/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert service.pk not in [row["id"] for row in client.get("/api/v1/services/").json()["results"]]
    assert ServiceInstance.objects.get(pk=service.pk).status == ServiceStatus.PENDING
    assert requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["calls"] == 0
