"""Factories of field work: work orders with their tasks, images, and evidence recorded the way a technician does."""

import base64
import io
import uuid

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cos.choices import AddressStatus
from tests.cos.factories import AddressFactory, ONTFactory
from workorders import services
from workorders.batch import work_orders_create_chunk
from workorders.choices import EvidenceKind, PerformerKind, TaskCategory, TaskStatus, WorkOrderKind
from workorders.models import Task, TaskTemplate, WorkOrder, WorkOrderTemplate
from workorders.services import work_order_create


class WorkOrderTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkOrderTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    code = factory.Sequence(lambda n: f"template-{n}")
    kind = WorkOrderKind.INSTALLATION
    building_types = factory.LazyFunction(lambda: ["single_family"])


class TaskTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskTemplate

    template = factory.SubFactory(WorkOrderTemplateFactory)
    position = factory.Sequence(lambda n: n + 1)
    category = TaskCategory.PHYSICAL
    title = factory.Sequence(lambda n: f"Step {n}")
    evidence_required = factory.LazyFunction(list)
    performed_by = PerformerKind.STAFF


def installation_work_order(*, address=None, **address_fields) -> WorkOrder:
    """The installation work order of an address in deployment, created the way the batch creates it."""
    if address is None:
        address = AddressFactory(status=AddressStatus.IN_DEPLOYMENT, **address_fields)
    work_orders_create_chunk(area_id=None, first_id=address.pk, last_id=address.pk)
    return WorkOrder.objects.get(address=address, kind=WorkOrderKind.INSTALLATION)


def work_order_from(template: WorkOrderTemplate, *, address=None, **fields) -> WorkOrder:
    """A work order from any template (e.g. the post-deployment connection), with the template's tasks."""
    if address is None:
        status = AddressStatus.CONNECTED if template.kind == WorkOrderKind.CONNECTION else AddressStatus.IN_DEPLOYMENT
        address = AddressFactory(status=status)
    work_order = work_order_create(address=address, template=template, **fields)
    return work_order


def assign(work_order: WorkOrder, *, user=None, organization=None, positions=None) -> None:
    """Dispatch tasks of a work order (all of them, or those at `positions`) to a person and/or an organization."""
    tasks = work_order.tasks.all()
    if positions is not None:
        tasks = tasks.filter(position__in=positions)
    tasks.update(assigned_user=user, assigned_organization=organization)


def task_at(work_order: WorkOrder, position: int) -> Task:
    return work_order.tasks.get(position=position)


def image_bytes(*, fmt: str = "PNG", size=(64, 48), mode: str = "RGB", color=(30, 120, 200), exif=None) -> bytes:
    out = io.BytesIO()
    image = Image.new(mode, size, color)
    if exif is not None:
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def photo_upload(name: str = "drop.png", content: bytes | None = None, content_type: str = "image/png"):
    return SimpleUploadedFile(name, image_bytes() if content is None else content, content_type=content_type)


def signature_data_url(content: bytes | None = None) -> str:
    return "data:image/png;base64," + base64.b64encode(content or image_bytes()).decode()


def record(task: Task, actor, kind: str, *, files=None, key: str | None = None, **data):
    """Evidence as submitted from the task page: one form submission, with its own submission key."""
    return services.evidence_record(
        task_id=task.pk,
        actor=actor,
        kind=kind,
        data={k: str(v) for k, v in data.items()},
        files=files or {},
        submission_key=key or uuid.uuid4().hex,
    )


def prove(task: Task, actor, *, light_level="-19.5", speed=("950", "940"), ont_serial=None) -> None:
    """Record every kind of evidence the task needs, with passing values."""
    for kind in task.evidence_required:
        if kind == EvidenceKind.PHOTO:
            record(task, actor, kind, files={"photo": photo_upload()})
        elif kind == EvidenceKind.LIGHT_LEVEL:
            record(task, actor, kind, light_level_dbm=light_level)
        elif kind == EvidenceKind.SPEED_TEST:
            record(task, actor, kind, download_mbps=speed[0], upload_mbps=speed[1])
        elif kind == EvidenceKind.ONT_SERIAL:
            serial = ont_serial or ONTFactory().serial
            record(task, actor, kind, ont_serial=serial)
        elif kind == EvidenceKind.SIGNATURE:
            record(task, actor, kind, signature=signature_data_url())
        else:
            record(task, actor, kind, note="done")


def work_through(work_order: WorkOrder, actor, *, until: int | None = None, **evidence) -> None:
    """The actor proves and closes the open tasks in order (up to position `until`)."""
    for task in work_order.tasks.filter(status=TaskStatus.OPEN).order_by("position"):
        if until is not None and task.position > until:
            break
        prove(task, actor, **evidence)
        services.task_close(task_id=task.pk, actor=actor)
