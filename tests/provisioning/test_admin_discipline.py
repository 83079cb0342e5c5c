"""Admin discipline in provisioning: a service instance's provider, profile, speeds, ONT and VLANs change only
through a verified modify job asked for with a reason code; jobs and the ledger are never deleted."""

import pytest
import requests
from django.urls import reverse

from cos.models import Event
from cos.services import membership_grant
from provisioning.choices import JobAction, JobStatus, ServiceStatus
from provisioning.models import ProvisioningJob, ServicePeriod
from tests.cos.factories import OrganizationFactory, UserFactory
from tests.marketplace.factories import ProviderFactory
from tests.provisioning.conftest import request_provisioning

pytestmark = pytest.mark.django_db

ACTION = "action_change_profile__a_verified_modify_job__reason_code"


@pytest.fixture
def ops(client):
    user = UserFactory(username="olle-ops")
    membership_grant(user=user, organization=OrganizationFactory(kind="network_operator"), role="operations")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def live(ordered, django_capture_on_commit_callbacks):
    """A service activated on the simulated network (verified), with its open ledger period."""
    w, ont, service = ordered()
    request_provisioning(w, django_capture_on_commit_callbacks)
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    return ont, service


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_change_form_of_a_live_service_changes_none_of_its_network_fields(ops, live):
    # given: a live service
    ont, service = live
    before = (service.provider_id, service.service_profile, service.download_mbps, service.ont_id, service.c_vlan)
    # when: its change form is posted with another provider, profile, speeds, ONT and VLANs
    ops.post(
        reverse("admin:provisioning_serviceinstance_change", args=[service.pk]),
        {
            "provider": ProviderFactory().pk,
            "service_profile": "HSI_10_10",
            "download_mbps": "10",
            "upload_mbps": "10",
            "ont": "",
            "c_vlan": "4000",
            "s_vlan": "4001",
        },
    )
    # then: nothing changed, and no job was asked for
    service.refresh_from_db()
    assert (
        service.provider_id,
        service.service_profile,
        service.download_mbps,
        service.ont_id,
        service.c_vlan,
    ) == before
    assert not ProvisioningJob.objects.filter(service=service, action=JobAction.MODIFY).exists()


def test_operations_change_a_profile_with_a_reason_through_a_verified_modify_job(
    ops, live, simulator, django_capture_on_commit_callbacks
):
    # given: a live service
    ont, service = live
    url = reverse("admin:provisioning_serviceinstance_changelist")
    # when: the action's form is asked for, then filled in with the new profile and a reason code
    form = ops.post(url, {"action": ACTION, "_selected_action": [service.pk]})
    assert 'name="reason"' in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(
            url,
            {
                "action": ACTION,
                "_selected_action": [service.pk],
                "apply": "1",
                "profile": "HSI_250_250",
                "download_mbps": "250",
                "upload_mbps": "250",
                "reason": "technical",
                "note": "line cannot hold 1000",
            },
            follow=True,
        )
    # then: a modify job applied it and the device reads it back; the ledger follows; who and why are recorded
    job = ProvisioningJob.objects.get(service=service, action=JobAction.MODIFY)
    assert job.status == JobStatus.SUCCEEDED
    assert any("a modify job" in message for message in _messages(response))
    device = requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["onts"][ont.serial]
    (state,) = device["services"].values()
    assert (state["profile"], state["down"], state["up"]) == ("HSI_250_250", 250, 250)
    assert ServicePeriod.objects.get(service=service, ended_at__isnull=True).profile == "HSI_250_250"
    asked = Event.objects.get(name="service.modify_requested")
    assert asked.payload["job_id"] == job.pk
    assert asked.payload["reason"] == "Technical reason: line cannot hold 1000"
    assert asked.payload["actor_id"] == ops.user.pk
    assert asked.payload["previous"]["profile"] != "HSI_250_250"


@pytest.mark.parametrize(
    ("form", "refusal"),
    [
        ({"profile": "HSI_250_250", "reason": "other", "note": ""}, "Say why"),
        ({"profile": "{same}", "download_mbps": "1000", "upload_mbps": "1000", "reason": "technical"}, "already"),
    ],
)
def test_a_profile_change_without_a_reason_or_without_a_change_is_refused(
    ops, live, form, refusal, django_capture_on_commit_callbacks
):
    # given
    ont, service = live
    form = {**form, "profile": form["profile"].replace("{same}", service.service_profile)}
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(
            reverse("admin:provisioning_serviceinstance_changelist"),
            {"action": ACTION, "_selected_action": [service.pk], "apply": "1", **form},
            follow=True,
        )
    # then: the refusal says why, and nothing was asked of the network
    assert any(refusal in message for message in _messages(response))
    assert not ProvisioningJob.objects.filter(service=service, action=JobAction.MODIFY).exists()
    assert not Event.objects.filter(name="service.modify_requested").exists()


def test_a_job_records_what_it_applied_and_is_never_deleted(client, django_user_model, live):
    # given: the activation job of a live service
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456"))
    ont, service = live
    job = ProvisioningJob.objects.get(service=service, action=JobAction.ACTIVATE)
    # when: its change form is posted with another profile, and its delete page asked for
    client.post(
        reverse("admin:provisioning_provisioningjob_change", args=[job.pk]),
        {
            "profile": "HSI_10_10",
            "download_mbps": "10",
            "cos-transitionlog-content_type-object_id-TOTAL_FORMS": "0",
            "cos-transitionlog-content_type-object_id-INITIAL_FORMS": "0",
        },
    )
    delete = client.post(reverse("admin:provisioning_provisioningjob_delete", args=[job.pk]), {"post": "yes"})
    period = ServicePeriod.objects.get(service=service)
    period_delete = client.get(reverse("admin:provisioning_serviceperiod_delete", args=[period.pk]))
    # then
    job.refresh_from_db()
    assert (job.profile, job.download_mbps) == ("", None)
    assert (delete.status_code, period_delete.status_code) == (403, 403)
    assert ProvisioningJob.objects.filter(pk=job.pk).exists()


def test_a_service_is_found_by_its_address_as_the_operator_types_it(ops, live):
    # given: the live service; its address typed as an operator would (lower case, number and letter)
    ont, service = live
    address = service.address
    typed = f"{address.street.lower()} {address.house_number}{address.suffix}"
    # when
    page = ops.get(reverse("admin:provisioning_serviceinstance_changelist"), {"q": typed}).content.decode()
    nothing = ops.get(reverse("admin:provisioning_serviceinstance_changelist"), {"q": "Nowhere Street 99"})
    # then
    assert f"/admin/provisioning/serviceinstance/{service.pk}/change/" in page
    assert f"/admin/provisioning/serviceinstance/{service.pk}/change/" not in nothing.content.decode()
