"""The operator's console (/ops/): what needs attention, deployment progress, and the way into the admin.

The console lives in the core, below the apps whose records it counts, so it cannot import them. Each app registers
what it owns instead, next to the admin change list that shows it (the app's admin module, loaded at start-up):

- `attention_queue(...)`: a queue of records that need someone, read through the owner's selector, with a count on
  the console and a link to the change list narrowed to exactly those records (the `AttentionFilter` of this module
  in the model admin's list_filter, or plain lookups on the model's own fields that select the same rows);
- `console_section(fn)`: a block of the page, e.g. field work's deployment progress.

The page is read-only: every action happens in the admin, through the services.
"""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import QuerySet
from django.shortcuts import render
from django.urls import NoReverseMatch, path, reverse

from cos.choices import HandlerRunStatus, OrganizationKind, Role
from cos.models import Membership
from cos.selectors import handler_runs_needing_attention

# Who reads the console: operator staff of the network operator. Finance reads it too (it changes nothing); the
# links it follows into the admin are those its role may view.
CONSOLE_ROLES = (Role.ADMIN, Role.OPERATIONS, Role.FINANCE, Role.FIELD_MANAGER)

# The admin's main sections: (title, [(model label, link text)]), shown where the person may view the model.
MAIN_SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Field work",
        [
            ("workorders.WorkOrder", "Work orders"),
            ("workorders.Task", "Tasks"),
            ("workorders.InstallationRecord", "Installation records"),
        ],
    ),
    (
        "Network",
        [
            ("provisioning.ServiceInstance", "Service instances"),
            ("provisioning.ProvisioningJob", "Provisioning jobs"),
            ("provisioning.ContractException", "Contract exceptions"),
            ("provisioning.ServicePeriod", "Service periods (the ledger)"),
        ],
    ),
    (
        "Sales",
        [
            ("marketplace.Order", "Orders"),
            ("marketplace.Subscription", "Subscriptions"),
            ("marketplace.Switch", "Switches"),
            ("cos.Customer", "Customers"),
        ],
    ),
    (
        "Billing",
        [
            ("billing.Invoice", "Invoices"),
            ("billing.Payment", "Payments"),
            ("billing.Refund", "Refunds"),
            ("billing.BillingRun", "Billing runs"),
        ],
    ),
    (
        "Places and devices",
        [("cos.Area", "Areas"), ("cos.AddressObject", "Addresses"), ("cos.OLT", "OLTs"), ("cos.ONT", "ONTs")],
    ),
    ("Events", [("cos.HandlerRun", "Handler runs"), ("cos.Event", "Events")]),
]


@dataclass(frozen=True)
class AttentionQueue:
    """Records that need someone: counted on the console, listed in their admin change list."""

    key: str
    title: str
    description: str  # what the operator does about them
    items: Callable[[], QuerySet]  # the owner's selector
    lookups: dict[str, str] | None = None  # change-list lookups selecting exactly `items`; None: the AttentionFilter
    position: int = 100

    @property
    def model(self):
        return self.items().model

    def changelist_url(self) -> str:
        opts = self.model._meta
        query = self.lookups if self.lookups is not None else {AttentionFilter.parameter_name: self.key}
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + "?" + urlencode(query)


_queues: dict[str, AttentionQueue] = {}
_sections: list[tuple[int, Callable]] = []


def attention_queue(
    *,
    key: str,
    title: str,
    description: str,
    items: Callable[[], QuerySet],
    lookups: dict[str, str] | None = None,
    position: int = 100,
) -> AttentionQueue:
    """Register a queue of the console (registering the same key again replaces it)."""
    queue = AttentionQueue(key, title, description, items, lookups, position)
    _queues[key] = queue
    return queue


def attention_queues() -> list[AttentionQueue]:
    return sorted(_queues.values(), key=lambda queue: (queue.position, queue.key))


def console_section(fn: Callable | None = None, *, position: int = 100) -> Callable:
    """Register `fn(request) -> {"template": ..., "title": ..., "anchor": ..., **context}`, a block of the console
    under its title (the template reads the dict as `section`); it must cost a fixed number of queries, whatever the
    number of records."""

    def register(fn: Callable) -> Callable:
        if fn not in [registered for _, registered in _sections]:
            _sections.append((position, fn))
        return fn

    return register(fn) if fn is not None else register


class AttentionFilter(admin.SimpleListFilter):
    """A change-list filter with one choice per console queue over the list's model: exactly the records the
    console counts, read through the same selector."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [(queue.key, queue.title) for queue in attention_queues() if queue.model is model_admin.model]

    def queryset(self, request, queryset):
        queue = _queues.get(self.value() or "")
        if queue is None or queue.model is not queryset.model:
            return queryset
        return queryset.filter(pk__in=queue.items().values("pk"))


def console_reader(user) -> bool:
    """Operator staff: a superuser, or someone with an operator role at the network operator."""
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or (
        Membership.objects.filter(
            user=user, role__in=CONSOLE_ROLES, organization__kind=OrganizationKind.NETWORK_OPERATOR
        ).exists()
    )


def _viewable_changelist(request, model) -> str:
    """The admin change list of `model`, where the person may view it; else ""."""
    model_admin = admin.site._registry.get(model)
    if model_admin is None or not model_admin.has_view_or_change_permission(request):
        return ""
    opts = model._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    except NoReverseMatch:
        return ""


def _main_sections(request) -> list[dict]:
    sections = []
    for title, labels in MAIN_SECTIONS:
        links = []
        for model_label, text in labels:
            try:
                model = apps.get_model(model_label)
            except LookupError:
                continue
            url = _viewable_changelist(request, model)
            if url:
                links.append({"label": text, "url": url})
        if links:
            sections.append({"title": title, "links": links})
    return sections


@dataclass
class QueueRow:
    queue: AttentionQueue
    count: int
    url: str = ""  # empty where the person may not view the list

    @property
    def items_label(self) -> str:
        """What the list holds, in the plural: "work orders"."""
        return str(self.queue.model._meta.verbose_name_plural)

    @property
    def link_text(self) -> str:
        opts = self.queue.model._meta
        if not self.count:
            return "Open the list"
        if self.count == 1:
            return f"Open the {opts.verbose_name}"
        return f"Open the {self.count} {opts.verbose_name_plural}"


@staff_member_required
def console(request):
    """The operator's console: each attention queue with its count and a link to exactly its records, the
    deployment progress of each area, and links into the admin's main sections. Read-only."""
    if not console_reader(request.user):
        return render(request, "ops/forbidden.html", status=403)
    rows = []
    for queue in attention_queues():
        url = queue.changelist_url() if _viewable_changelist(request, queue.model) else ""
        rows.append(QueueRow(queue, queue.items().count(), url))
    sections = [fn(request) for _, fn in sorted(_sections, key=lambda entry: entry[0])]
    context = {
        "queues": rows,
        "attention_total": sum(row.count for row in rows),
        "sections": sections,
        "main_sections": _main_sections(request),
    }
    return render(request, "ops/console.html", context)


urlpatterns = [path("ops/", console, name="ops-console")]


attention_queue(
    key="handler_runs_failing",
    title="Event handlers failing or dead",
    description="A reaction to an event failed (retried with backoff) or gave up: fix the cause, then Retry now.",
    items=handler_runs_needing_attention,
    lookups={"status__in": f"{HandlerRunStatus.FAILED},{HandlerRunStatus.DEAD}"},
    position=50,
)
