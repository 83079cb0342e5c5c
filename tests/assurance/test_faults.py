"""The board's control of faults caught in the week: provisioning jobs that died, jobs taken over after their
worker was lost, bank debits whose webhook never came, contract exceptions, statement disputes; counted by kind,
listed by drill-down, narrowed to a provider."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from assurance.metrics import METRICS, Scope
from provisioning.choices import ExceptionKind, JobStatus
from provisioning.jobs import provisioning_jobs_sweep
from provisioning.models import ProvisioningJob
from provisioning.sync import contract_exception_record
from simulation.engine import WorkerLost, worker_dies_after_the_device
from tests.provisioning.conftest import (  # noqa: F401
    ordered,  # noqa: F401 - fixture
    request_provisioning,
    running_simulator,
    simulator,
)

pytestmark = pytest.mark.django_db


def test_the_weeks_faults_are_counted_by_kind_listed_and_narrowed_to_a_provider(
    ordered,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    faults, faults_rows = METRICS["faults"]
    # given: an activation refused at once (the element manager does not know the ONT): the job dies
    w1, _ont, _service = ordered(known=False)
    request_provisioning(w1, django_capture_on_commit_callbacks)
    dead = ProvisioningJob.objects.get(service__address=w1.address)
    assert dead.status == JobStatus.DEAD
    # another provider's activation whose worker dies once the device applied it; the sweep takes it over later
    w2, _ont, service2 = ordered()
    with worker_dies_after_the_device(True), pytest.raises(WorkerLost):
        request_provisioning(w2, django_capture_on_commit_callbacks)
    crashed = ProvisioningJob.objects.get(service=service2)
    assert crashed.status == JobStatus.RUNNING
    lease_over = timezone.now() + timedelta(seconds=settings.PROVISIONING_JOB_LEASE_SECONDS + 1)
    with time_machine.travel(lease_over), django_capture_on_commit_callbacks(execute=True):
        assert provisioning_jobs_sweep() == 1
    crashed.refresh_from_db()
    assert crashed.status == JobStatus.SUCCEEDED
    # and the contract sync finds that service's speed off the contract
    contract_exception_record(
        ExceptionKind.PROFILE_MISMATCH, service=service2, ont_serial="X1", device_service_id="s1", detail="100/100"
    )
    now = timezone.now() + timedelta(minutes=5)
    # when
    network, rows = faults(Scope(), now), faults_rows(Scope(), now)
    first, second = faults(Scope(provider_id=w1.provider.pk), now), faults(Scope(provider_id=w2.provider.pk), now)
    # then: three faults this week, one of each kind seen; amber (none is green, ten or more red)
    assert (network.value, network.colour) == (3, "amber")
    assert {k: network.extra[k] for k in ("died", "worker_lost", "webhook_lost", "exceptions", "disputes")} == {
        "died": 1,
        "worker_lost": 1,
        "webhook_lost": 0,
        "exceptions": 1,
        "disputes": 0,
    }
    assert [row.label for row in rows] == [
        f"Provisioning job {dead.pk} died",
        f"Provisioning job {crashed.pk} taken over: its worker was lost mid-job",
        "Contract exception: Speed or VLAN differ from the contract",
    ]
    assert rows[1].url.endswith(f"/provisioning/provisioningjob/{crashed.pk}/change/")
    assert "now succeeded" in rows[1].detail
    # each provider sees its own
    assert (first.value, second.value) == (1, 2)
    # a week later they are last week's: nothing this week, green
    later = faults(Scope(), now + timedelta(days=8))
    assert (later.value, later.colour) == (0, "green")
