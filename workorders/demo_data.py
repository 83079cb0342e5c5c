"""Demo field work: realistic FTTH templates, and a work order ready for the demo technicians. Idempotent."""

from django.contrib.auth import get_user_model
from django.utils import timezone

from cos.models import Organization
from workorders.choices import TaskStatus, WorkOrderKind, WorkOrderStatus
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
    """Two demo jobs scheduled today: one done by the operator's technician alone, one shared with the contractor."""
    User = get_user_model()
    tech, contractor_tech = User.objects.get(username="tech"), User.objects.get(username="contractor-tech")
    contractor = Organization.objects.get(slug="gravteam")
    jobs = list(
        WorkOrder.objects.filter(
            kind=WorkOrderKind.INSTALLATION, address__area__code="SOL", address__building_type="single_family"
        )
        .exclude(status=WorkOrderStatus.CANCELLED)
        .order_by("address__external_id")[:2]
    )
    today = timezone.localdate()
    for index, work_order in enumerate(jobs):
        if work_order.scheduled_for is None and work_order.status == WorkOrderStatus.CREATED:
            from workorders.services import work_order_schedule

            work_order_schedule(work_order_id=work_order.pk, on=today)
        for task in work_order.tasks.filter(
            status=TaskStatus.OPEN, assigned_user__isnull=True, assigned_organization__isnull=True
        ):
            if index == 1 and task.performed_by == CONTRACTOR:
                task.assigned_organization, task.assigned_user = contractor, contractor_tech
            else:
                task.assigned_user = tech
            task.save(update_fields=["assigned_user", "assigned_organization", "updated_at"])
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
    ]


def _demo_pre_order(address) -> None:
    """Anna has pre-ordered internet at the first job's address: closing its provisioning task turns it on."""
    from cos.models import Customer
    from marketplace.models import Marketplace, Order, Price, Product
    from marketplace.services import order_place
    from marketplace.validation import LineRequest, OrderRequest

    customer = Customer.objects.filter(user__username="anna").first()
    product = Product.objects.filter(name="Ljusnet 250").first()
    marketplace = Marketplace.objects.filter(slug="hem").first()
    if not (customer and product and marketplace) or Order.objects.filter(address=address).exists():
        return
    price = Price.objects.filter(product=product, marketplace=marketplace).order_by("-valid_from").first()
    order_place(
        request=OrderRequest(
            customer=customer,
            address_id=address.pk,
            marketplace_id=marketplace.pk,
            provider_id=product.provider_id,
            lines=[LineRequest(product.pk, price.monthly_amount, price.currency)],
            terms_accepted=True,
            install_date=timezone.localdate() + timezone.timedelta(days=1),
        )
    )
