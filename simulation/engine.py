"""Simulated months through the real chain.

A network is run day by day on a moved clock (COS's and the element manager's together), from the first day of a
month some months ago up to now: subscribers order in the portal's way, providers accept, technicians work the
installation jobs on the booked day, the element manager activates (the simulator), the periodic jobs of the beat
schedule bill, collect, finalize and sweep as they would, subscribers pay by card or by bank transfer (some late,
some never: dunning), change plans, switch providers and leave; each month's wholesale statements are issued, paid
and disputed. Everything goes through the services and events, never by writing their rows. The faults named are
injected once each, where they would happen. The same seed gives the same world.
"""

import logging
import random
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import requests
import time_machine
from celery.schedules import maybe_schedule
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import close_old_connections
from django.utils import timezone

from cos.errors import ApplicationError
from cos.periodic import jobs_run_due, periodic_jobs

logger = logging.getLogger(__name__)

FAULTS = {
    "failed-provisioning": "the element manager refuses one activation: the job dies, operations retries it",
    "price-override": "finance gives a manual price-match discount on one invoice",
    "device-unbound": "an ONT is taken off its address after a swap while its service runs: billing held",
    "lost-deactivation": "one ended service's deactivation is refused and never retried: still live on the network",
    "disputed-line": "two providers dispute a statement line: one upheld (credited next month), one rejected",
    "lost-webhook": "the bank's confirmation of one direct debit never arrives: the payments sweep looks it up",
    "worker-crash": "the worker running one activation dies after the device applied it: the job is taken over",
}
# When in the local day things happen: the periodic jobs run at every step.
STEPS = (time(6, 0), time(10, 0), time(14, 0), time(18, 0))
INTERNET = [  # product, weight
    ("Ljusnet 250", 30),
    ("Ljusnet 1000", 15),
    ("Fiberly 500", 25),
    ("Svea 100", 20),
    ("Svea 1000 Pro", 10),
]
ADD_ONS = {"ljusnet": "Ljusnet TV Bas", "fiberly": "Fiberly Telefoni", "sveaconnect": "Svea Säkerhetspaket"}
PAYERS = [  # how a subscriber pays, weight
    ("card", 52),
    ("debit", 8),
    ("transfer", 24),
    ("late", 10),
    ("never", 3),
    ("card_nsf", 3),
]
PAYS_AFTER_DUE = {"transfer": timedelta(days=-2), "late": timedelta(days=8)}  # a bank transfer's day
CARD = {"type": "card", "exp_month": 12, "cvc": "123"}
METHODS = {  # what the automatic payers save on their first invoice
    "card": {**CARD, "number": "4242424242424242"},
    "card_nsf": {**CARD, "number": "4000000000009995"},
    "debit": {"type": "sepa_debit", "iban": "DE89370400440532013000"},
}
FIRST_NAMES = ["Anders", "Karin", "Lars", "Eva", "Per", "Maria", "Nils", "Sara", "Olof", "Elin", "Jonas", "Ida"]
LAST_NAMES = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson"]


class WorkerLost(BaseException):
    """The worker process died mid-job: nothing after that point of the job ran (not an error a handler catches)."""


@contextmanager
def worker_dies_after_the_device(crash: bool):
    """While open (when `crash`), the next provisioning job dies once the device has applied and read back its
    change, before the outcome is recorded: the job stays running until its lease runs out and the sweep takes it
    over, as after a worker killed mid-job."""
    if not crash:
        yield
        return
    from provisioning import jobs

    recorded = jobs._succeeded

    def dies(job, **_outcome):
        jobs._succeeded = recorded
        raise WorkerLost(f"the worker running provisioning job {job.pk} died after the device applied it")

    jobs._succeeded = dies
    try:
        yield
    finally:
        jobs._succeeded = recorded


def signed_event(kind: str, obj: dict, *, event_id: str) -> tuple[bytes, str]:
    """A payment gateway's webhook event (the offline gateway's: Stripe's scheme) and its signature header."""
    import hashlib
    import hmac
    import json

    at = int(timezone.now().timestamp())
    payload = json.dumps(
        {"id": event_id, "object": "event", "type": kind, "created": at, "data": {"object": obj}}
    ).encode()
    digest = hmac.new(settings.OFFLINE_WEBHOOK_SECRET.encode(), f"{at}.".encode() + payload, hashlib.sha256)
    return payload, f"t={at},v1={digest.hexdigest()}"


@dataclass
class Plan:
    subscribers: int
    months: int
    faults: frozenset = frozenset(FAULTS)
    seed: int = 1


@dataclass
class Outcome:
    start: date
    end: date
    counts: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


class Clock:
    """COS's clock and the element manager's, moved together (the element manager's through its control API)."""

    def __init__(self, at: datetime):
        self._traveller = time_machine.travel(at, tick=False)
        self._base = settings.PROVISIONING_NOKIA_URL.rsplit("/", 1)[0]
        self.now = at

    def __enter__(self) -> "Clock":
        self._coordinates = self._traveller.start()
        self._device_clock(self.now)
        return self

    def move_to(self, at: datetime) -> None:
        self._coordinates.move_to(at)
        self._device_clock(at)
        self.now = at

    def _device_clock(self, at: datetime) -> None:
        requests.post(f"{self._base}/_sim/clock", json={"now": at.isoformat()}, timeout=5).raise_for_status()

    def __exit__(self, *exc) -> None:
        self._traveller.stop()
        try:
            requests.delete(f"{self._base}/_sim/clock", timeout=5)
        except requests.RequestException:
            logger.warning("could not give the element manager its own clock back")


def today_year() -> int:
    return timezone.now().year


def months_back(today: date, months: int) -> date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return date(year, month + 1, 1)


class Simulation:
    def __init__(self, plan: Plan, *, progress=None):
        unknown = set(plan.faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))} (known: {', '.join(FAULTS)})")
        if plan.subscribers < 1 or plan.months < 1:
            raise ValueError("--subscribers and --months are at least 1")
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.zone = ZoneInfo(settings.SITE_TIME_ZONE)
        self.progress = progress
        self.payers: dict[int, str] = {}  # customer id -> how they pay
        self.fault_done: set[str] = set()
        self.counts: Counter = Counter()
        self.notes: list[str] = []
        self.refusals: list[str] = []
        self.accounts_set_up: set[int] = set()
        self.lost_webhooks: set[int] = set()  # payments whose bank webhook was lost

    # --- the run -------------------------------------------------------------------------------------------------
    def run(self) -> Outcome:
        from simulation import world

        self.people = world.people()
        if world.area_exists():
            raise ApplicationError(
                f"{world.AREA_NAME} has been simulated already: the simulation runs once on a database.",
                code="simulated_already",
            )
        real_now = timezone.now()
        today = real_now.astimezone(self.zone).date()
        start = months_back(today, self.plan.months)
        days = [start + timedelta(days=n) for n in range((today - start).days + 1)]
        self._arrival_schedule(days)
        jobs = periodic_jobs()
        for job in jobs:  # daily here, hourly in production: the read-back of every device, the board's check
            if job.name in ("contract-sync", "board-check"):
                job.schedule = maybe_schedule(timedelta(days=1))
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        first = datetime.combine(start, STEPS[0], self.zone) - timedelta(hours=1)
        self.jobs = jobs
        with Clock(first) as clock:
            self.clock = clock
            self._world(start)
            for day in days if self.progress is None else self.progress(days):
                for step in STEPS:
                    at = datetime.combine(day, step, self.zone)
                    if at >= real_now:
                        break
                    clock.move_to(at)
                    self._jobs(jobs)
                    self._guarded(self._bank_webhooks, day)
                    self._act(day, step)
                    self._guarded(self._bank_webhooks, day)
                close_old_connections()
        return Outcome(start=start, end=today, counts=self.counts, notes=self.notes)

    def _jobs(self, jobs) -> None:
        for outcome in jobs_run_due(jobs):
            if not outcome.ok:
                self.counts["periodic job failures"] += 1
                logger.warning("%s failed: %s", outcome.name, outcome.error)

    def _act(self, day: date, step: time) -> None:
        if step == time(10, 0):
            self._orders_accept(day)
            self._guarded(self._arrivals, day)
            self._guarded(self._field_work, day)
            self._guarded(self._dead_activations_retry, day)
            self._guarded(self._statements, day)
            self._guarded(self._faults_of_the_day, day)
        elif step == time(14, 0):
            self._guarded(self._payments, day)
            self._guarded(self._changes, day)

    def _guarded(self, action, *args) -> None:
        """An action the services refuse (a rule of the product) is counted, and the simulation goes on."""
        day = timezone.now().astimezone(self.zone).date()
        try:
            action(*args)
        except (ApplicationError, ValidationError) as exc:
            code = getattr(exc, "code", None) or type(exc).__name__
            self.counts[f"refused by a rule ({action.__name__.strip('_')}: {code})"] += 1
            self.refusals.append(f"{day} {action.__name__.strip('_')}: {exc}")

    # --- the ground ----------------------------------------------------------------------------------------------
    def _world(self, start: date) -> None:
        from simulation import world

        homes = int(self.plan.subscribers * 1.5) + 20
        self.area = world.area_build(homes)
        world.area_open_for_sale(self.area)
        self.connected_at_start = set(world.area_first_phase(self.area))
        from cos.models import AddressObject

        homes = list(
            AddressObject.objects.filter(area=self.area)
            .exclude(building_type="business")
            .order_by("external_id")
            .values_list("pk", flat=True)
        )
        self.rng.shuffle(homes)
        self.free_homes = homes

    def _arrival_schedule(self, days: list[date]) -> None:
        """When each subscriber orders: over the first two thirds of the period, so the last third sees them live."""
        window = max(int(len(days) * 2 / 3), 1)
        self.arrivals = Counter(days[int(self.rng.random() * window)] for _ in range(self.plan.subscribers))
        self.fault_days = {
            name: days[int(len(days) * share)]
            for name, share in (
                ("failed-provisioning", 0.25),
                ("price-override", 0.45),
                ("device-unbound", 0.5),
                ("lost-deactivation", 0.6),
                ("worker-crash", 0.35),
                ("lost-webhook", 0.4),
            )
        }

    # --- subscribers order -----------------------------------------------------------------------------------------
    def _arrivals(self, day: date) -> None:
        for _ in range(self.arrivals.get(day, 0)):
            if not self.free_homes:
                return
            self._guarded(self._order, day, self.free_homes.pop())

    def _order(self, day: date, address_id: int) -> None:
        from cos.models import AddressObject, Customer
        from marketplace.models import Marketplace, Product

        address = AddressObject.objects.get(pk=address_id)
        # What the offers page shows at the address: before it is built, only what can be pre-ordered.
        offered = [(p, w) for p, w in INTERNET if self._sold_at(p, address)]
        name = self.rng.choices([p for p, _ in offered], weights=[w for _, w in offered])[0]
        product = Product.objects.select_related("provider").get(name=name)
        products = [product]
        if self.rng.random() < 0.15 and self._sold_at(ADD_ONS[product.provider.slug], address):
            products.append(Product.objects.get(name=ADD_ONS[product.provider.slug]))
        n = self.counts["orders placed"] + 1
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        customer = Customer(
            customer_type="residential",
            first_name=first,
            last_name=last,
            email=f"{first}.{last}.{n}@sim.example".lower(),
            phone=f"+46 70 {n:07d}",
            billing_street=f"{address.street} {address.house_number}{address.suffix}",
            billing_postal_code=address.postal_code,
            billing_city=address.city,
        )
        if address.status == "connected":
            self._ont_in_place(address)
        marketplace = Marketplace.objects.get(slug="hem")
        order = self._place(customer, address, marketplace, products, day + timedelta(days=self.rng.randint(4, 12)))
        self.payers[order.customer_id] = self.rng.choices([p for p, _ in PAYERS], weights=[w for _, w in PAYERS])[0]
        self.counts["orders placed"] += 1

    def _sold_at(self, product_name: str, address) -> bool:
        from marketplace.models import EligibilityRule

        rule = EligibilityRule.objects.filter(product__name=product_name).first()
        return rule is None or not rule.address_statuses or address.status in rule.address_statuses

    def _place(self, customer, address, marketplace, products, install_date, *, key: str = ""):
        from marketplace.models import Price
        from marketplace.services import order_place
        from marketplace.validation import LineRequest, OrderRequest

        lines = []
        for product in products:
            price = Price.objects.filter(product=product, marketplace=marketplace).order_by("-valid_from").first()
            lines.append(LineRequest(product.pk, price.monthly_amount, price.currency))
        order, _ = order_place(
            request=OrderRequest(
                customer=customer,
                address_id=address.pk,
                marketplace_id=marketplace.pk,
                provider_id=products[0].provider_id,
                lines=lines,
                terms_accepted=True,
                install_date=install_date,
                idempotency_key=key,
            )
        )
        return order

    def _ont_in_place(self, address):
        """A built home has its ONT on the wall (installed with the first phase)."""
        from cos import inventory
        from cos.models import ONT

        bound = ONT.objects.filter(address=address).first()
        if bound:
            return bound
        spare = ONT.objects.filter(address__isnull=True, pon_port__olt__area=address.area).order_by("serial").first()
        return inventory.ont_bind(serial=spare.serial, address=address)

    def _orders_accept(self, day: date) -> None:
        """A provider that does not accept automatically accepts its orders the next working morning."""
        from marketplace.choices import OrderStatus
        from marketplace.models import Order

        waiting = Order.objects.filter(address__area=self.area, status=OrderStatus.SUBMITTED).order_by("pk")
        for order in waiting:
            self._guarded(self._accept, order)

    def _accept(self, order) -> None:
        from marketplace.services import order_accept

        order_accept(order_id=order.pk, actor=self.people.provider_users.get(order.provider_id))
        self.counts["orders accepted by the provider"] += 1

    # --- the field ---------------------------------------------------------------------------------------------------
    def _field_work(self, day: date) -> None:
        """Each installation job whose order is booked for today (or earlier) is worked today: staff and the
        contractor's crew do their tasks with their evidence; operations signs off a job the crew had a hand in."""
        from marketplace.choices import OrderStatus
        from marketplace.models import Order
        from workorders.choices import WorkOrderKind, WorkOrderStatus
        from workorders.models import WorkOrder

        booked = set(
            Order.objects.filter(
                address__area=self.area,
                status__in=(OrderStatus.ACCEPTED, OrderStatus.IN_FULFILLMENT),
                preferred_install_date__lte=day,
            ).values_list("address_id", flat=True)
        )
        jobs = WorkOrder.objects.filter(
            address_id__in=booked,
            kind__in=(WorkOrderKind.INSTALLATION, WorkOrderKind.CONNECTION),
            status__in=(WorkOrderStatus.CREATED, WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS),
        ).order_by("pk")
        for job in jobs:
            self._guarded(self._work, job, day)

    def _work(self, job, day: date) -> None:
        from workorders.choices import TaskStatus, WorkOrderStatus
        from workorders.demo_data import CONTRACTOR, task_done_with_evidence
        from workorders.services import tasks_assign, work_order_accept, work_order_schedule

        people = self.people
        if job.scheduled_for is None:
            work_order_schedule(work_order_id=job.pk, on=day, actor=people.ops)
        tasks = list(job.tasks.filter(status=TaskStatus.OPEN).order_by("position"))
        crew = [t.pk for t in tasks if t.performed_by == CONTRACTOR and people.contractor_tech is not None]
        unassigned = [t for t in tasks if t.assigned_user_id is None and t.assigned_organization_id is None]
        if crew:
            tasks_assign(
                task_ids=[t.pk for t in unassigned if t.pk in crew],
                actor=people.ops,
                user=people.contractor_tech,
                organization=people.contractor,
            )
        staff = [t.pk for t in unassigned if t.pk not in crew]
        if staff:
            tasks_assign(task_ids=staff, actor=people.ops, user=people.tech)
        for task in tasks:
            crash = False
            if task.triggers_provisioning and self._fault_now("failed-provisioning", day):
                self._device_fault(kind="reject", times=1)
                self.notes.append(f"failed-provisioning: the activation at {job.address} was refused on {day}")
            elif task.triggers_provisioning and self._fault_now("worker-crash", day):
                crash = True
            with worker_dies_after_the_device(crash):
                try:
                    task_done_with_evidence(task, people.contractor_tech if task.pk in crew else people.tech)
                except WorkerLost as lost:
                    self.notes.append(f"worker-crash: {lost} at {job.address} on {day}")
                    self._lease_runs_out()
        job.refresh_from_db()
        if job.status == WorkOrderStatus.COMPLETED:
            work_order_accept(work_order_id=job.pk, actor=people.ops)
        self.counts["field jobs worked"] += 1

    def _lease_runs_out(self) -> None:
        """Minutes pass, as they would after a lost worker: its job's lease runs out, and the beat schedule's sweep
        takes the job over and delivers what the dead worker had not."""
        sweep = settings.CELERY_BEAT_SCHEDULE["provisioning-jobs-sweep"]["schedule"]
        lease = settings.PROVISIONING_JOB_LEASE_SECONDS + sweep
        self.clock.move_to(timezone.now() + timedelta(seconds=lease))
        self._jobs(self.jobs)

    def _dead_activations_retry(self, day: date) -> None:
        """Operations retries an activation that died, two days later (from the console)."""
        from provisioning.choices import JobAction, JobStatus
        from provisioning.jobs import provisioning_job_retry
        from provisioning.models import ProvisioningJob

        dead = ProvisioningJob.objects.filter(
            service__address__area=self.area,
            action=JobAction.ACTIVATE,
            status=JobStatus.DEAD,
            updated_at__lte=timezone.now() - timedelta(days=2),
        ).order_by("pk")
        for job in dead:
            provisioning_job_retry(job_id=job.pk, actor=self.people.ops, reason="retried from the console")
            self.counts["dead activations retried"] += 1

    # --- money -------------------------------------------------------------------------------------------------------
    def _payments(self, day: date) -> None:
        """Card payers save their card on their first invoice (then it is charged automatically); transfer payers pay
        two days before the due date; late payers eight days after it; some never pay."""
        from billing.choices import Collection, InvoiceKind, InvoiceStatus
        from billing.models import Invoice

        open_invoices = (
            Invoice.objects.filter(
                account__customer__subscriptions__address__area=self.area,
                kind=InvoiceKind.INVOICE,
                status__in=(InvoiceStatus.OPEN, InvoiceStatus.LATE),
            )
            .select_related("account")
            .distinct()
            .order_by("pk")
        )
        for invoice in open_invoices:
            payer = self.payers.get(invoice.account.customer_id, "transfer")
            if invoice.account_id not in self.accounts_set_up:
                self._guarded(self._preferences, invoice.account)
            if payer in METHODS:
                if invoice.account.collection != Collection.AUTOMATIC:
                    self._guarded(self._method_saved, invoice, METHODS[payer])
            elif invoice.due_on and day >= invoice.due_on + PAYS_AFTER_DUE.get(payer, timedelta(days=9999)):
                self._guarded(self._transfer, invoice, day)

    def _preferences(self, account) -> None:
        """On their first invoice, three in four subscribers choose to read their invoices in the portal only."""
        from billing.choices import Delivery
        from billing.preferences import billing_preferences_update

        self.accounts_set_up.add(account.pk)
        if self.rng.random() < 0.75:
            billing_preferences_update(
                account_id=account.pk,
                collection=account.collection,
                delivery=Delivery.PORTAL,
                invoice_email=account.invoice_email,
            )
            account.refresh_from_db()

    def _method_saved(self, invoice, details: dict) -> None:
        from billing.choices import Collection
        from billing.payments import invoice_pay_now, payment_method_add
        from billing.preferences import billing_preferences_update

        account = invoice.account
        if details["type"] == "card":
            details = {**details, "exp_year": timezone.now().year + 3}
        method = payment_method_add(account_id=account.pk, details=details)
        billing_preferences_update(
            account_id=account.pk,
            collection=Collection.AUTOMATIC,
            delivery=account.delivery,
            invoice_email=account.invoice_email,
        )
        self.counts["cards saved" if details["type"] == "card" else "direct debits set up"] += 1
        invoice.refresh_from_db()
        if invoice.open_amount > 0 and not invoice.payments.filter(status__in=("processing", "pending")).exists():
            invoice_pay_now(invoice_id=invoice.pk, method_id=method.pk)

    def _bank_webhooks(self, day: date) -> None:
        """The bank settles each direct debit taken and the gateway tells COS by a signed webhook; the one whose
        webhook is lost (the fault) is never told: the payments sweep finds its outcome by looking it up."""
        from billing.choices import DELAYED_METHOD_TYPES, PaymentStatus
        from billing.models import Payment
        from billing.webhooks import webhook_receive

        debits = Payment.objects.filter(
            status=PaymentStatus.PROCESSING,
            method_type__in=DELAYED_METHOD_TYPES,
            account__customer__email__endswith="@sim.example",
        ).order_by("pk")
        for payment in debits:
            if payment.pk in self.lost_webhooks:
                continue
            if self._fault_now("lost-webhook", day):
                self.lost_webhooks.add(payment.pk)
                self.notes.append(f"lost-webhook: the bank's confirmation of payment {payment.pk} never came ({day})")
                continue
            payload, signature = signed_event(
                "payment_intent.succeeded",
                {
                    "id": payment.reference,
                    "object": "payment_intent",
                    "amount": int(payment.amount * 100),
                    "currency": payment.currency.lower(),
                    "status": "succeeded",
                    "metadata": {"cos_payment": str(payment.pk)},
                },
                event_id=f"evt_sim_{payment.pk}",
            )
            webhook_receive(gateway_name="offline", payload=payload, signature=signature)
            self.counts["bank debits confirmed by webhook"] += 1

    def _transfer(self, invoice, day: date) -> None:
        from billing.payments import payment_record

        invoice.refresh_from_db()
        if invoice.open_amount <= 0:
            return
        payment_record(
            invoice_id=invoice.pk,
            amount=invoice.open_amount,
            method_type="bank_transfer",
            external_reference=f"BG-{invoice.number}",
            received_on=day,
            actor=self.people.finance,
        )
        self.counts["bank transfers"] += 1

    # --- changes over time -------------------------------------------------------------------------------------------
    def _changes(self, day: date) -> None:
        """Each day a few live subscribers upgrade, switch provider or leave (about a tenth, a twentieth and a
        twentieth of them over three months)."""
        from marketplace.choices import SubscriptionStatus
        from marketplace.models import Subscription

        live = list(
            Subscription.objects.filter(
                address__area=self.area, status=SubscriptionStatus.ACTIVE, product__category="internet"
            )
            .select_related("product", "provider", "address", "customer")
            .order_by("pk")
        )
        for subscription in live:
            roll = self.rng.random()
            if roll < 0.0011:
                self._guarded(self._upgrade, subscription)
            elif roll < 0.0017:
                self._guarded(self._switch, subscription, day)
            elif roll < 0.0023:
                self._guarded(self._leave, subscription)

    def _upgrade(self, subscription) -> None:
        from marketplace.models import Product
        from marketplace.services import subscription_change_request

        better = next(
            (
                product
                for product in Product.objects.filter(
                    provider=subscription.provider_id,
                    category=subscription.product.category,
                    download_mbps__gt=subscription.product.download_mbps or 0,
                ).order_by("download_mbps", "pk")
                if product.is_active
            ),
            None,
        )
        if better is None:
            return
        subscription_change_request(subscription_id=subscription.pk, product_id=better.pk)
        self.counts["plan changes"] += 1

    def _switch(self, subscription, day: date) -> None:
        from marketplace.models import Marketplace, Product

        others = [name for name, _ in INTERNET if not name.lower().startswith(subscription.provider.slug[:4])]
        product = Product.objects.filter(name=self.rng.choice(others)).first()
        if product is None or product.provider_id == subscription.provider_id:
            return
        marketplace = Marketplace.objects.get(slug="hem")
        self._place(subscription.customer, subscription.address, marketplace, [product], day + timedelta(days=5))
        self.counts["switches ordered"] += 1

    def _leave(self, subscription) -> None:
        from marketplace.services import subscription_terminate

        subscription_terminate(subscription_id=subscription.pk, reason="moved", note="moving away")
        self.counts["terminations"] += 1

    # --- wholesale -----------------------------------------------------------------------------------------------
    def _statements(self, day: date) -> None:
        """The month-end job made last month's drafts on the 1st; finance issues them on the 2nd; each provider pays
        its undisputed statements on the due day; two providers dispute a line of the first month's statements."""
        from wholesale.choices import StatementStatus
        from wholesale.models import Statement
        from wholesale.services import statement_issue

        if day.day == 2:
            for statement in Statement.objects.filter(
                status=StatementStatus.DRAFT, month__lt=day.replace(day=1)
            ).order_by("pk"):
                statement_issue(statement_id=statement.pk, actor=self.people.finance)
                self.counts["statements issued"] += 1
        if day.day == 4 and "disputed-line" in self.plan.faults and "disputed-line" not in self.fault_done:
            self._disputes(day)
        self._dispute_decisions(day)
        due = Statement.objects.filter(status=StatementStatus.ISSUED, due_on__lte=day).order_by("pk")
        for statement in due:
            self._guarded(self._settle, statement)

    def _settle(self, statement) -> None:
        from wholesale.services import statement_settle

        statement_settle(statement_id=statement.pk, actor=self.people.finance)
        self.counts["statements settled"] += 1

    def _disputes(self, day: date) -> None:
        from wholesale.choices import StatementStatus
        from wholesale.models import Statement, StatementLine
        from wholesale.services import dispute_open

        issued = list(Statement.objects.filter(status=StatementStatus.ISSUED).order_by("provider_id", "pk"))
        if len(issued) < 2:
            return
        for statement, reason, text in (
            (issued[0], "wrong_days", "The service was handed over to another provider on the 20th."),
            (issued[1], "wrong_rate", "We pay the campaign rate for this profile."),
        ):
            line = StatementLine.objects.filter(statement=statement, amount__gt=0).order_by("-amount", "pk").first()
            if line is None:
                continue
            question = (line.amount / 2).quantize(Decimal("0.01"))
            dispute_open(
                statement_id=statement.pk,
                provider=statement.provider,
                lines=[{"line": line.pk, "amount": str(question)}],
                reason_code=reason,
                text=text,
                actor=self.people.provider_users.get(statement.provider_id),
            )
            self.counts["disputes opened"] += 1
        self.fault_done.add("disputed-line")
        self.notes.append(f"disputed-line: {issued[0].provider} and {issued[1].provider} disputed a line on {day}")

    def _dispute_decisions(self, day: date) -> None:
        """Operations reviews a dispute two days after it came in and decides a week later: the first upheld, the
        second rejected."""
        from wholesale.choices import DisputeStatus
        from wholesale.models import StatementDispute
        from wholesale.services import dispute_reject, dispute_review, dispute_uphold

        for index, dispute in enumerate(StatementDispute.objects.order_by("pk")):
            age = (day - dispute.created_at.astimezone(self.zone).date()).days
            if dispute.status == DisputeStatus.OPEN and age >= 2:
                dispute_review(dispute_id=dispute.pk, actor=self.people.finance)
            elif dispute.status == DisputeStatus.UNDER_REVIEW and age >= 9:
                if index % 2 == 0:
                    dispute_uphold(dispute_id=dispute.pk, actor=self.people.finance, reason="Hand-over day confirmed.")
                    self.counts["disputes upheld"] += 1
                else:
                    dispute_reject(
                        dispute_id=dispute.pk,
                        actor=self.people.finance,
                        reason="The rate card in force that month has no campaign rate for this profile.",
                    )
                    self.counts["disputes rejected"] += 1

    # --- faults --------------------------------------------------------------------------------------------------
    def _fault_now(self, name: str, day: date) -> bool:
        """True once: on or after the fault's day, when it is asked for."""
        if name not in self.plan.faults or name in self.fault_done or day < self.fault_days.get(name, day):
            return False
        self.fault_done.add(name)
        return True

    def _device_fault(self, **fault) -> None:
        base = settings.PROVISIONING_NOKIA_URL.rsplit("/", 1)[0]
        requests.post(f"{base}/_sim/faults", json=fault, timeout=5).raise_for_status()

    def _faults_of_the_day(self, day: date) -> None:
        from billing.choices import InvoiceKind, InvoiceStatus
        from billing.models import Invoice
        from cos import inventory
        from marketplace.choices import SubscriptionStatus
        from marketplace.models import Subscription
        from provisioning.choices import ServiceStatus
        from provisioning.models import ServiceInstance

        if self._fault_now("price-override", day):
            invoice = (
                Invoice.objects.filter(
                    account__customer__subscriptions__address__area=self.area,
                    kind=InvoiceKind.INVOICE,
                    status__in=(InvoiceStatus.OPEN, InvoiceStatus.LATE),
                    total__gte=Decimal("200.00"),
                )
                .order_by("pk")
                .first()
            )
            if invoice is not None:
                from billing.overrides import invoice_discount

                invoice_discount(
                    invoice_id=invoice.pk,
                    amount=Decimal("100.00"),
                    reason_code="price-match",
                    actor=self.people.finance,
                    note="Matched a competitor's offer by phone",
                )
                self.notes.append(f"price-override: a 100.00 discount on {invoice} on {day}")
        if self._fault_now("device-unbound", day):
            service = (
                ServiceInstance.objects.filter(address__area=self.area, status=ServiceStatus.ACTIVE, ont__isnull=False)
                .exclude(subscription__provider__slug="sveaconnect")  # not the one whose deactivation is lost
                .select_related("ont")
                .order_by("pk")
                .first()
            )
            if service is not None:
                inventory.ont_unbind(serial=service.ont.serial, reason="swapped: the old ONT went back to the depot")
                self.notes.append(f"device-unbound: ONT {service.ont.serial} taken off {service.address} on {day}")
        if self._fault_now("lost-deactivation", day):
            subscription = (
                Subscription.objects.filter(
                    address__area=self.area,
                    status=SubscriptionStatus.ACTIVE,
                    provider__slug="sveaconnect",
                    product__category="internet",
                )
                .order_by("pk")
                .first()
            )
            if subscription is not None:
                from marketplace.services import subscription_terminate

                self._device_fault(kind="reject", times=1)
                subscription_terminate(subscription_id=subscription.pk, reason="moved", note="moving away")
                self.counts["terminations"] += 1
                self.notes.append(f"lost-deactivation: {subscription.address}'s service stayed on after {day}")
