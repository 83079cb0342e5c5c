"""Activation through a real Celery worker (Redis broker, PostgreSQL), the simulator on loopback."""

import pytest
from django.db import transaction
from django.utils import timezone

from cos import events
from marketplace import services as marketplace_services
from provisioning.choices import JobStatus, ServiceStatus
from provisioning.models import ProvisioningJob, ServiceInstance
from tests.cos.factories import OLTFactory, ONTFactory, PonPortFactory
from tests.marketplace.factories import world
from tests.provisioning.conftest import fault

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_activates_a_service_through_retries(simulator, celery_worker, wait_until):
    # given: an accepted order (committed, so the worker sees it) and an ONT bound at the address
    w = world()
    marketplace_services.order_place(request=w.request())
    wait_until(lambda: ServiceInstance.objects.filter(address=w.address).exists(), message="the service instance")
    ont = ONTFactory(
        serial=f"CXNK{w.address.pk % 0xFFFFFFFF:08X}",
        vendor="calix",
        address=w.address,
        bound_at=timezone.now(),
        pon_port=PonPortFactory(olt=OLTFactory(vendor="calix")),
    )
    import requests

    requests.post(f"{simulator.url}/_sim/onts", json={"serial": ont.serial}, timeout=5)
    fault(simulator, kind="error_5xx", times=1)
    # when: the technician's trigger is committed
    with transaction.atomic():
        events.publish("workorder.provisioning_requested", address_id=w.address.pk, work_order_id=0, task_id=0)
    # then: the worker retries past the 5xx and the service is verified active
    wait_until(
        lambda: ServiceInstance.objects.filter(address=w.address, status=ServiceStatus.ACTIVE).exists(),
        timeout=30,
        message="the service to be active",
    )
    job = ProvisioningJob.objects.get(service__address=w.address)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)


def _worker_process(simulator, **env):
    """A separate `celery worker` process on the test database, the broker and the simulator."""
    import os
    import subprocess
    import sys

    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        **{f"PROVISIONING_{v.upper()}_URL": f"{simulator.url}/{v}" for v in ("adtran", "nokia", "calix")},
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cos", "worker", "-P", "solo", "-l", "warning"]
        + ["--without-heartbeat", "--without-gossip", "--without-mingle"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _broker_emptied() -> None:
    import redis
    from django.conf import settings

    from cos.celery import app

    app.control.purge()
    redis.Redis.from_url(settings.REDIS_URL).delete("unacked", "unacked_index", "unacked_mutex")


def test_a_worker_killed_mid_job_leaves_the_job_to_run_again_and_apply_once(simulator, wait_until):
    import requests

    from cos.models import Event

    env = {
        # the job hangs in the element manager long enough to be killed there
        "PROVISIONING_TIMEOUT_SECONDS": "60",
        "PROVISIONING_JOB_LEASE_SECONDS": "1",
        # an unacknowledged task comes back to the queue quickly
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    }
    _broker_emptied()  # no task left over from an earlier test may occupy the workers or be restored to them
    first = _worker_process(simulator, **env)
    second = None
    try:
        # given: an accepted order and an ONT bound at the address, whose first request hangs
        w = world()
        marketplace_services.order_place(request=w.request())
        # (the worker may still be starting: its first task waits for it)
        wait_until(
            lambda: ServiceInstance.objects.filter(address=w.address).exists(),
            timeout=60,
            message="the service instance",
        )
        ont = ONTFactory(
            serial=f"ADTN{w.address.pk % 0xFFFFFFFF:08X}",
            vendor="adtran",
            address=w.address,
            bound_at=timezone.now(),
            pon_port=PonPortFactory(olt=OLTFactory(vendor="adtran")),
        )
        requests.post(f"{simulator.url}/_sim/onts", json={"serial": ont.serial}, timeout=5)
        fault(simulator, kind="timeout", serial=ont.serial, delay=20, times=1)
        with transaction.atomic():
            events.publish("workorder.provisioning_requested", address_id=w.address.pk, work_order_id=0, task_id=0)
        wait_until(
            lambda: ProvisioningJob.objects.filter(service__address=w.address, status=JobStatus.RUNNING).exists(),
            message="the job to be running",
        )
        # when: the worker is killed in the middle of the job, and another worker takes over
        first.kill()
        first.wait(timeout=10)
        assert ServiceInstance.objects.get(address=w.address).status == ServiceStatus.PROVISIONING
        second = _worker_process(simulator, **env)
        # then: the task is delivered again, the job runs a second time, and the service is activated once
        wait_until(
            lambda: ServiceInstance.objects.filter(address=w.address, status=ServiceStatus.ACTIVE).exists(),
            timeout=90,
            message="the service to be active after the takeover",
        )
        job = ProvisioningJob.objects.get(service__address=w.address)
        assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
        assert Event.objects.filter(name="service.activated", payload__address_id=w.address.pk).count() == 1
        device = requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["onts"][ont.serial]
        assert list(device["services"]) == [f"cos-{job.service_id}"]
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
