"""Celery entry points of provisioning. acks_late: a worker lost mid-job gets the job delivered again."""

from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def provisioning_job_run_task(job_id: int) -> None:
    from provisioning.jobs import provisioning_job_execute

    provisioning_job_execute(job_id=job_id)


@shared_task(ignore_result=True)
def contract_sync_task() -> None:
    """Periodic: compare every service's contract with the network (see provisioning.sync)."""
    from provisioning.sync import contract_sync

    contract_sync()


@shared_task(ignore_result=True)
def provisioning_jobs_sweep_task() -> None:
    """Periodic: jobs whose delivery was lost are enqueued again (see provisioning.jobs)."""
    from provisioning.jobs import provisioning_jobs_sweep

    provisioning_jobs_sweep()
