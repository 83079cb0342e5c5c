"""Chunks of one run billed at the same moment by different workers: each commits, none waits for a deadlock to be
detected, and the last one to finish completes the run."""

import threading
from datetime import date

import pytest
from django.db import connection

from billing.choices import RunStatus
from billing.models import BillingRun, Invoice
from billing.runs import billing_chunk, due_account_chunks
from tests.billing.factories import activate, subscription

APRIL = date(2026, 4, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_chunks_of_one_run_billed_at_once_all_commit():
    # given: a run of four chunks of two accounts each
    for _ in range(8):
        activate(subscription(), date(2026, 3, 15))
    chunks = list(due_account_chunks(APRIL, 2))
    run = BillingRun.objects.create(as_of=APRIL, chunks=len(chunks))
    barrier = threading.Barrier(len(chunks))
    failures = []

    def work(account_ids):
        try:
            barrier.wait()
            billing_chunk(run_id=run.pk, account_ids=account_ids, as_of=APRIL)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            failures.append(exc)
        finally:
            connection.close()

    # when: each chunk on a worker of its own, all at once
    threads = [threading.Thread(target=work, args=(ids,)) for ids in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert failures == []
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.invoices) == (RunStatus.DONE, 4, 8)
    assert Invoice.objects.filter(run=run).count() == 8
