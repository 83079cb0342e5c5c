"""Queries that read provisioning: what the network did with a work order's services (the field pages' panel),
whether a failed activation holds the work order, and what operations should look at (the console's queues:
dead or failing jobs, open contract exceptions)."""

import json
import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from marketplace.models import Participation
from provisioning.choices import ExceptionStatus, JobAction, JobStatus, ServiceStatus
from provisioning.models import ContractException, ProvisioningJob, ServiceInstance
from workorders import provisioning_status as field_panel


@dataclass(frozen=True)
class ServiceOutcome:
    """One ordered service on its way onto the network, in the words the technician reads on the phone."""

    service_id: int
    name: str  # the product and its provider: "Fiber 1000 (Ljusnet)"
    state: str  # waiting | provider | queued | running | retrying | active | failed | off
    job_id: int | None = None
    attempts: int = 0
    max_attempts: int = 0
    next_attempt_at: datetime | None = None
    verified_at: datetime | None = None
    reason: str = ""  # why the last attempt failed, in plain words

    LABELS = {
        "waiting": ("Not asked yet", ""),
        "provider": ("Waiting for the provider", ""),
        "queued": ("Queued", "warn"),
        "running": ("Turning on", "warn"),
        "retrying": ("Retrying", "warn"),
        "active": ("Verified active", "ok"),
        "failed": ("Failed", "bad"),
        "off": ("Off", ""),
    }

    @property
    def label(self) -> str:
        return self.LABELS[self.state][0]

    @property
    def tone(self) -> str:
        return self.LABELS[self.state][1]

    @property
    def in_flight(self) -> bool:
        """The network is still at it: the panel keeps asking."""
        return self.state in ("queued", "running", "retrying")

    @property
    def can_retry(self) -> bool:
        return self.state in ("failed", "retrying")

    @property
    def verified_today(self) -> bool:
        return self.verified_at is not None and timezone.localdate(self.verified_at) == timezone.localdate()


def reason_in_plain_words(error: str) -> str:
    """What made a job fail, for someone standing at the ONT: the element manager's technical message made
    readable (the reasons COS writes itself are plain already). A phrase without the closing full stop."""
    text = (error or "").strip()
    if not text:
        return "no reason was recorded"
    status = re.search(r"HTTP (\d{3})\s*(.*)", text, re.DOTALL)
    if "Timeout" in text:
        phrase = "the network did not answer in time"
    elif "ConnectionError" in text:
        phrase = "the network could not be reached"
    elif status and (int(status.group(1)) >= 500 or status.group(1) == "429"):
        phrase = f"the network was busy (HTTP {status.group(1)})"
    elif status:
        detail = _error_detail(status.group(2))
        phrase = f"the network refused it ({detail or 'HTTP ' + status.group(1)})"
    elif unknown := re.search(r"does not know (?:ONT|ONU) (\S+)", text):
        phrase = f"the network does not know ONT {unknown.group(1)}: check the serial scanned on this job"
    elif "reads back differently" in text:
        phrase = "the ONT reads back other settings than those ordered"
    elif "is not JSON" in text:
        phrase = "the network gave an answer that could not be read"
    else:
        phrase = text.rstrip(".")
    # "No ONT is bound ..." reads as "... : no ONT is bound ..."; an acronym ("ONT ...") keeps its capitals
    return phrase[0].lower() + phrase[1:] if phrase[1:2].islower() else phrase


def _error_detail(body: str) -> str:
    try:
        answer = json.loads(body)
    except ValueError:
        return body.strip()[:120]
    if isinstance(answer, dict):
        return str(answer.get("error") or answer.get("message") or answer.get("detail") or "")[:120]
    return ""


def _state(service: ServiceInstance, job: ProvisioningJob | None, self_activating: bool) -> str:
    if service.status in (ServiceStatus.ACTIVE, ServiceStatus.DEACTIVATING):
        return "active"
    if service.status == ServiceStatus.INACTIVE:
        return "off"
    if job is None:
        return "failed" if service.status == ServiceStatus.FAILED else "provider" if self_activating else "waiting"
    return {
        JobStatus.QUEUED: "queued",
        JobStatus.RUNNING: "running",
        JobStatus.FAILED: "retrying",
        JobStatus.DEAD: "failed",
    }.get(job.status, "off")  # succeeded, yet not live: turned off again (its order was cancelled meanwhile)


@field_panel.outcomes_source
def work_order_provisioning(work_order) -> list[ServiceOutcome]:
    """Each service ordered on the work order (a work order or its id) and where its activation stands: the
    latest activation job's state, the reason of its last failure, its next try, or the verified activation time
    the device reported. Services cancelled with their order are left out. Three queries."""
    services = list(
        ServiceInstance.objects.filter(subscription__order_line__order__work_orders=work_order)
        .exclude(status=ServiceStatus.CANCELLED)
        .select_related("subscription__product", "provider")
        .distinct()
        .order_by("pk")
    )
    if not services:
        return []
    latest: dict[int, ProvisioningJob] = {}
    for job in ProvisioningJob.objects.filter(service__in=services, action=JobAction.ACTIVATE).order_by("pk"):
        latest[job.service_id] = job
    self_activating = set(
        Participation.objects.filter(
            activates_services_itself=True, provider__in={s.provider_id for s in services}
        ).values_list("marketplace_id", "provider_id")
    )
    outcomes = []
    for service in services:
        job = latest.get(service.pk)
        state = _state(service, job, (service.subscription.marketplace_id, service.provider_id) in self_activating)
        error = job.last_error if job is not None and state in ("retrying", "failed") else service.failure_reason
        outcomes.append(
            ServiceOutcome(
                service_id=service.pk,
                name=f"{service.subscription.product.name} ({service.provider.name})",
                state=state,
                job_id=job.pk if job else None,
                attempts=job.attempts if job else 0,
                max_attempts=settings.PROVISIONING_MAX_ATTEMPTS,
                next_attempt_at=job.next_attempt_at if job and state == "retrying" else None,
                verified_at=service.activated_at if state == "active" else None,
                reason=reason_in_plain_words(error) if state in ("retrying", "failed") else "",
            )
        )
    return outcomes


@field_panel.completion_hold
def activation_failed_for_work_order(*, work_order_id: int) -> str | None:
    """Why the work order may not complete: a service it turned on failed on the network (its activation job
    is dead) and nobody has got it on since. None when no activation failed; one still retrying does not hold
    the work order (it may yet succeed, and the panel shows it)."""
    failed = [o for o in work_order_provisioning(work_order_id) if o.state == "failed"]
    if not failed:
        return None
    first = failed[0]
    return (
        f"{first.name} did not turn on: {first.reason}. Fix the cause and tap Try again under “Is the service "
        "on?”; once it shows verified active, the work order can complete."
    )


def jobs_needing_attention() -> QuerySet[ProvisioningJob]:
    """Provisioning jobs operations should look at, dead ones first, then the newest: dead jobs (nothing tries
    them again by itself) and jobs failing again and again (failed more than once, waiting for their next try).
    A dead job that a later job of the same service and action has replaced, or whose service was cancelled with
    its order, needs nobody any more and is left out."""
    replaced = ProvisioningJob.objects.filter(
        service_id=OuterRef("service_id"), action=OuterRef("action"), pk__gt=OuterRef("pk")
    )
    return (
        ProvisioningJob.objects.filter(Q(status=JobStatus.DEAD) | Q(status=JobStatus.FAILED, attempts__gt=1))
        .exclude(Exists(replaced))
        .exclude(service__status=ServiceStatus.CANCELLED)
        .select_related("service__address", "service__provider")
        .order_by("status", "-updated_at", "-pk")  # "dead" sorts before "failed"
    )


def contract_exceptions_open() -> QuerySet[ContractException]:
    """Differences between what is sold and what the network delivers that nobody has resolved yet: red ones
    first, then the most recently seen."""
    return (
        ContractException.objects.filter(status=ExceptionStatus.OPEN)
        .select_related("service__address", "service__provider")
        .order_by("-severity", "-last_seen_at", "-pk")  # "red" sorts after "amber": descending puts it first
    )
