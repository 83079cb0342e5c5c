"""Demo field work: realistic FTTH templates, two jobs ready for the demo technicians today, and yesterday's work
that waits for the operator (a job to sign off, a rejected one, a skipped measurement, an order whose work order
failed). Everything through the field services, as the phones and the admin call them. Idempotent."""

import base64
import functools
import io

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw

from cos.models import Organization
from workorders.choices import EvidenceKind, TaskStatus, WorkOrderKind, WorkOrderStatus
from workorders.models import TaskTemplate, WorkOrder, WorkOrderTemplate

P, T, PT, C = "physical", "testing", "provisioning_trigger", "customer_communication"
CONTRACTOR, STAFF = "contractor", "staff"

# position, category, title, instructions, evidence, skill, performer, triggers provisioning
DROP = (
    1,
    P,
    "Drop from the distribution point",
    "Blow or pull the drop cable from the distribution point to the building; splice at the distribution point.",
    ["photo"],
    "splicing",
    CONTRACTOR,
    False,
)
ENTRY = (
    2,
    P,
    "Building entry and wall box",
    "Enter the building at the agreed point, seal the entry, mount the fiber wall box and splice.",
    ["photo"],
    "splicing",
    CONTRACTOR,
    False,
)
ONT = (
    3,
    P,
    "Mount the ONT and cable it",
    "Mount the ONT near the customer's router, patch from the wall box, "
    "scan the ONT serial (binds the ONT to this address).",
    ["ont_serial", "photo"],
    "installation",
    STAFF,
    False,
)
LIGHT = (
    4,
    T,
    "Light level at the ONT",
    "Measure the receive power at the ONT with the power meter.",
    ["light_level"],
    "testing",
    STAFF,
    False,
)
TRIGGER = (
    5,
    PT,
    "Turn the service on",
    "Closing this task asks the network to activate the ordered services.",
    [],
    "",
    STAFF,
    True,
)
SPEED = (
    6,
    T,
    "Speed test",
    "Run a wired speed test from the customer's router.",
    ["speed_test"],
    "testing",
    STAFF,
    False,
)
PHOTOS = (
    7,
    P,
    "Completion photos",
    "Photograph the ONT, the wall box and the cable route.",
    ["photo"],
    "installation",
    STAFF,
    False,
)
SIGN_OFF = (
    8,
    C,
    "Customer sign-off",
    "Walk the customer through the installation; the customer signs on the screen.",
    ["signature"],
    "",
    STAFF,
    False,
)
RISER = (
    1,
    P,
    "Riser and floor distribution",
    "Pull the fiber from the building distribution point through the riser to the apartment.",
    ["photo"],
    "splicing",
    CONTRACTOR,
    False,
)
UNIT_ENTRY = (
    2,
    P,
    "Apartment entry and wall box",
    "Enter the apartment, mount the wall box and splice.",
    ["photo"],
    "splicing",
    CONTRACTOR,
    False,
)

TEMPLATES = [
    (
        "sfu-drop",
        "Single-family drop",
        WorkOrderKind.INSTALLATION,
        ["single_family"],
        [DROP, ENTRY, ONT, LIGHT, TRIGGER, SPEED, PHOTOS, SIGN_OFF],
    ),
    (
        "mdu-unit",
        "Multi-dwelling unit",
        WorkOrderKind.INSTALLATION,
        ["multi_dwelling"],
        [RISER, UNIT_ENTRY, ONT, LIGHT, TRIGGER, SPEED, PHOTOS, SIGN_OFF],
    ),
    (
        "business",
        "Business connection",
        WorkOrderKind.INSTALLATION,
        ["business"],
        [
            DROP,
            ENTRY,
            ONT,
            LIGHT,
            TRIGGER,
            SPEED,
            PHOTOS,
            (
                8,
                C,
                "Handover to the site contact",
                "Hand over to the site contact; they sign on the screen.",
                ["signature"],
                "",
                STAFF,
                False,
            ),
        ],
    ),
    (
        "connection",
        "Post-deployment connection",
        WorkOrderKind.CONNECTION,
        ["single_family", "multi_dwelling", "business"],
        [(1, *ONT[1:]), (2, *LIGHT[1:]), (3, *TRIGGER[1:]), (4, *SPEED[1:]), (5, *SIGN_OFF[1:])],
    ),
    (
        "repair",
        "Repair or revisit",
        WorkOrderKind.REPAIR,
        ["single_family", "multi_dwelling", "business"],
        [(1, *LIGHT[1:]), (2, *SPEED[1:]), (3, *SIGN_OFF[1:])],
    ),
]


def seed() -> list[str]:
    for code, name, kind, building_types, tasks in TEMPLATES:
        template, created = WorkOrderTemplate.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "building_types": building_types}
        )
        if created:
            TaskTemplate.objects.bulk_create(
                [
                    TaskTemplate(
                        template=template,
                        position=position,
                        category=category,
                        title=title,
                        instructions=instructions,
                        evidence_required=evidence,
                        required_skill=skill,
                        performed_by=performer,
                        triggers_provisioning=trigger,
                    )
                    for position, category, title, instructions, evidence, skill, performer, trigger in tasks
                ]
            )
    return []


def finish() -> list[str]:
    """Two demo jobs scheduled today: one done by the operator's technician alone, one shared with the contractor;
    then what the operator's console shows (see _attention_queue_items)."""
    from workorders.services import tasks_assign, work_order_schedule

    User = get_user_model()
    ops, tech = User.objects.get(username="ops"), User.objects.get(username="tech")
    contractor_tech = User.objects.get(username="contractor-tech")
    contractor = Organization.objects.get(slug="gravteam")
    jobs = _sol_house_jobs()[:2]
    today = timezone.localdate()
    for index, work_order in enumerate(jobs):
        if work_order.scheduled_for is None and work_order.status == WorkOrderStatus.CREATED:
            work_order_schedule(work_order_id=work_order.pk, on=today)
        unassigned = work_order.tasks.filter(
            status=TaskStatus.OPEN, assigned_user__isnull=True, assigned_organization__isnull=True
        )
        contractors = [t.pk for t in unassigned if index == 1 and t.performed_by == CONTRACTOR]
        staff = [t.pk for t in unassigned if t.pk not in contractors]
        if contractors:
            tasks_assign(task_ids=contractors, actor=ops, user=contractor_tech, organization=contractor)
        if staff:
            tasks_assign(task_ids=staff, actor=ops, user=tech)
    if not jobs:
        return []
    _demo_pre_order(jobs[0].address)
    return [
        f"Field demo: log in at /field/ as 'tech' (demo1234): today's jobs at {jobs[0].address.label} (Anna's "
        "pre-order: closing 'Turn the service on' activates it)"
        + (
            f" and {jobs[1].address.label} (its first two tasks are the contractor's: 'contractor-tech')."
            if len(jobs) > 1
            else "."
        ),
        "Deployment progress for the operator: /ops/deployment/",
        *_attention_queue_items(ops=ops, tech=tech, contractor_tech=contractor_tech, contractor=contractor),
        *_order_without_work_order(),
    ]


def _sol_house_jobs() -> list[WorkOrder]:
    """The installation jobs of Solhöjden's houses, in address order: the first two are today's demo jobs, the next
    two were worked yesterday."""
    return list(
        WorkOrder.objects.filter(
            kind=WorkOrderKind.INSTALLATION, address__area__code="SOL", address__building_type="single_family"
        )
        .exclude(status=WorkOrderStatus.CANCELLED)
        .order_by("address__external_id")[:4]
    )


# --- what the operator's console shows: field work done yesterday, through the field services ------------------

SKIPPED_SPEED_TEST = (
    "The customer's own router is not in place yet: the provider runs the speed test remotely after activation."
)
REJECTION = "The entry photo shows the wall penetration unsealed: seal it and photograph it again."


def _attention_queue_items(*, ops, tech, contractor_tech, contractor) -> list[str]:
    """Two houses worked yesterday by the contractor's crew (drop and entry) and the operator's technician (the rest):

    - one completed, waiting for the operator's sign-off, with its speed test skipped for a reason;
    - one completed and rejected by the operator (the entry to redo): back in progress, on the contractor
      technician's My work with the reason on top.

    Made once: a job already worked is left as it is."""
    from workorders.services import task_skip, tasks_assign, work_order_reject, work_order_schedule

    yesterday = timezone.localdate() - timezone.timedelta(days=1)
    for index, work_order in enumerate(_sol_house_jobs()[2:4]):
        if work_order.status != WorkOrderStatus.CREATED:
            continue
        work_order_schedule(work_order_id=work_order.pk, on=yesterday)
        tasks = list(work_order.tasks.order_by("position"))
        crew = [t.pk for t in tasks if t.performed_by == CONTRACTOR]
        tasks_assign(task_ids=crew, actor=ops, user=contractor_tech, organization=contractor)
        tasks_assign(task_ids=[t.pk for t in tasks if t.pk not in crew], actor=ops, user=tech)
        for task in tasks:
            worker = contractor_tech if task.pk in crew else tech
            if index == 0 and EvidenceKind.SPEED_TEST in task.evidence_required:
                task_skip(task_id=task.pk, actor=worker, reason=SKIPPED_SPEED_TEST)
                continue
            task_done_with_evidence(task, worker)
        if index == 1:
            entry = next(t for t in tasks if t.performed_by == CONTRACTOR and t.position == 2)
            work_order_reject(work_order_id=work_order.pk, actor=ops, reason=REJECTION, task_ids=[entry.pk])
    jobs = _sol_house_jobs()[2:4]
    if len(jobs) < 2:
        return []
    return [
        f"Operator's console (/ops/, log in as 'ops'): {jobs[0]} at {jobs[0].address.label} waits for sign-off (its "
        f"speed test skipped with a reason); {jobs[1]} at {jobs[1].address.label} was rejected: 'contractor-tech' "
        "redoes the entry."
    ]


def task_done_with_evidence(task, worker) -> None:
    """Record the evidence a task asks for, as the technician's phone sends it, and close the task."""
    from cos import inventory
    from cos.models import ONT
    from workorders.services import evidence_record, task_close

    for kind in task.evidence_required:
        data, files = {}, {}
        if kind == EvidenceKind.PHOTO:
            files = {"photo": _demo_image(f"{task.title}", "JPEG")}
        elif kind == EvidenceKind.SIGNATURE:
            data = {"signature": "data:image/png;base64," + base64.b64encode(_demo_image("", "PNG").read()).decode()}
        elif kind == EvidenceKind.LIGHT_LEVEL:
            data = {"light_level_dbm": "-19,4"}
        elif kind == EvidenceKind.SPEED_TEST:
            data = {"download_mbps": "941,2", "upload_mbps": "936,8"}
        elif kind == EvidenceKind.ONT_SERIAL:
            olt = inventory.serving_port(task.work_order.address).olt
            spare = ONT.objects.filter(address__isnull=True, pon_port__olt=olt).order_by("-serial").first()
            data = {"ont_serial": spare.serial}
        evidence_record(
            task_id=task.pk, actor=worker, kind=kind, data=data, files=files, submission_key=f"demo-{task.pk}-{kind}"
        )
    task_close(task_id=task.pk, actor=worker)


def _demo_image(caption: str, image_format: str) -> SimpleUploadedFile:
    """A small picture standing in for a photo from the phone (or, without a caption, a signature)."""
    extension = "jpg" if image_format == "JPEG" else "png"
    return SimpleUploadedFile(f"demo.{extension}", _picture(caption, image_format), content_type=f"image/{extension}")


@functools.cache
def _picture(caption: str, image_format: str) -> bytes:
    image = Image.new("RGB", (320, 240), (214, 221, 228) if caption else (255, 255, 255))
    draw = ImageDraw.Draw(image)
    if caption:
        draw.rectangle((110, 60, 210, 180), outline=(60, 72, 88), width=4)  # the wall box
        draw.text((12, 212), caption[:48], fill=(30, 30, 30))
    else:
        draw.line([(30, 150), (90, 90), (140, 160), (200, 80), (290, 140)], fill=(20, 20, 120), width=5)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def _order_without_work_order() -> list[str]:
    """Sofia Dahl ordered at a connected apartment without an ONT while the connection template was switched off
    (say, under revision): the handler that makes her connection work order failed ("No active connection
    work-order template") until it gave up, so her order waits on the console's handler-run queue. The template is
    active again: retrying the run makes her work order. Its retries run here one after the other, as if the
    template had been off for the day."""
    from cos import events
    from cos.choices import HandlerRunStatus
    from cos.models import AddressObject, HandlerRun

    address = (
        AddressObject.objects.filter(
            area__code="SOL", status="connected", building_type="multi_dwelling", onts__isnull=True
        )
        .order_by("-external_id")
        .first()
    )
    customer = _demo_subscriber("sofia", "Sofia", "Dahl", address) if address else None
    if customer is None or customer.orders.exists():
        return []
    templates = list(WorkOrderTemplate.objects.filter(kind=WorkOrderKind.CONNECTION, is_active=True))
    _templates_active(templates, False)
    try:
        order = _demo_order(customer, address, "Ljusnet 250", install_date=timezone.localdate() + timezone.timedelta(3))
        run = HandlerRun.objects.filter(
            event__name="order.accepted", event__payload__order_id=order.pk, handler=WORK_ORDER_HANDLER
        ).first()
        while run is not None and run.status == HandlerRunStatus.FAILED:
            run = events.handler_run_execute(run_id=run.pk)
    finally:
        _templates_active(templates, True)
    return [f"  sofia's order at {address.label} has no work order: its handler run gave up (retry it there)."]


WORK_ORDER_HANDLER = "workorders.handlers.work_order_for_order"


def _templates_active(templates, active: bool) -> None:
    for template in templates:  # what the admin's change form does with the "active" box
        template.is_active = active
        template.save(update_fields=["is_active", "updated_at"])


def _demo_subscriber(username: str, first: str, last: str, address):
    from cos.models import Customer

    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@demo.example"}
    )
    if created:
        from cos.management.commands.seed_demo import demo_password_hash

        user.password = demo_password_hash()
        user.save()
    customer, _ = Customer.objects.get_or_create(
        user=user,
        defaults={
            "customer_type": "residential",
            "first_name": first,
            "last_name": last,
            "email": user.email,
            "phone": "+46 70 555 02 11",
            "billing_street": f"{address.street} {address.house_number}{address.suffix}",
            "billing_postal_code": address.postal_code,
            "billing_city": address.city,
        },
    )
    return customer


def _demo_order(customer, address, product_name: str, *, install_date=None):
    """An order placed as the portal places it (order_place); None where the demo catalog is missing."""
    from marketplace.models import Marketplace, Price, Product
    from marketplace.services import order_place
    from marketplace.validation import LineRequest, OrderRequest

    product = Product.objects.filter(name=product_name).first()
    marketplace = Marketplace.objects.filter(slug="hem").first()
    if not (product and marketplace):
        return None
    price = Price.objects.filter(product=product, marketplace=marketplace).order_by("-valid_from").first()
    order, _ = order_place(
        request=OrderRequest(
            customer=customer,
            address_id=address.pk,
            marketplace_id=marketplace.pk,
            provider_id=product.provider_id,
            lines=[LineRequest(product.pk, price.monthly_amount, price.currency)],
            terms_accepted=True,
            install_date=install_date,
        )
    )
    return order


def _demo_pre_order(address) -> None:
    """Anna has pre-ordered internet at the first job's address: closing its provisioning task turns it on."""
    from cos.models import Customer
    from marketplace.models import Order

    customer = Customer.objects.filter(user__username="anna").first()
    if customer is None or Order.objects.filter(address=address).exists():
        return
    _demo_order(customer, address, "Ljusnet 250", install_date=timezone.localdate() + timezone.timedelta(days=1))
