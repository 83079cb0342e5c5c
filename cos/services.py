"""Use cases of the core that write: areas, addresses, memberships."""

import re
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cos import events
from cos.choices import AddressStatus, OrganizationKind, Role
from cos.fsm import transition_apply, transition_locked
from cos.models import AddressObject, AddressStreet, Area, Membership, Organization, ProviderNotification, TransitionLog
from cos.roles import STAFF_ROLES, role_group

MOVABLE_TO_DEPLOYMENT = (AddressStatus.PLANNED, AddressStatus.SURVEYED)


def _area_locked(area_id: int) -> Area:
    return Area.objects.select_for_update().get(pk=area_id)


@transaction.atomic
def area_mark_surveyed(*, area_id: int, actor=None, reason: str = "") -> Area:
    """Planned -> surveyed."""
    return transition_locked(Area, area_id, "mark_surveyed", by=actor, reason=reason)


@transaction.atomic
def area_mark_built(*, area_id: int, actor=None, reason: str = "") -> Area:
    """In deployment -> built."""
    return transition_locked(Area, area_id, "mark_built", by=actor, reason=reason)


@dataclass(frozen=True)
class DeploymentStarted:
    area: Area
    addresses_moved: int


@transaction.atomic
def area_start_deployment(*, area_id: int, actor=None, reason: str = "") -> DeploymentStarted:
    """Move the area, and every planned or surveyed address in it, to in_deployment in one set-based step.

    Each moved address gets its TransitionLog row from the same statement. Emits one
    `area.in_deployment` event {area_id, address_count, moved_at}: a handler that needs the
    addresses selects them by area and status and splits the work into chunks itself, so a
    100,000-address area is one event, not 100,000.
    """
    area = _area_locked(area_id)
    transition_apply(area, "start_deployment", by=actor, reason=reason)
    area.save(update_fields=["status", "updated_at"])
    now = timezone.now()
    moved = _addresses_move_to_deployment(area_id=area.pk, actor_id=getattr(actor, "pk", None), reason=reason, now=now)
    events.publish("area.in_deployment", area_id=area.pk, address_count=moved, moved_at=now)
    return DeploymentStarted(area=area, addresses_moved=moved)


def _addresses_move_to_deployment(*, area_id: int, actor_id: int | None, reason: str, now) -> int:
    """Set-based status change plus transition log for every movable address of an area; returns the count."""
    address_table = connection.ops.quote_name(AddressObject._meta.db_table)
    log_table = connection.ops.quote_name(TransitionLog._meta.db_table)
    content_type_id = ContentType.objects.get_for_model(AddressObject).pk
    target = AddressStatus.IN_DEPLOYMENT.value
    log_columns = "content_type_id, object_id, transition, source, target, actor_id, reason, created_at"
    moved = 0
    with connection.cursor() as cursor:
        for source in MOVABLE_TO_DEPLOYMENT:
            if connection.vendor == "postgresql":
                # One statement per source state: the UPDATE re-checks its WHERE against concurrent
                # changes, and the log gets exactly the rows it moved.
                cursor.execute(
                    f"""
                    WITH moved AS (
                        UPDATE {address_table} SET status = %s, updated_at = %s
                        WHERE area_id = %s AND status = %s RETURNING id
                    )
                    INSERT INTO {log_table} ({log_columns})
                    SELECT %s, id, 'start_deployment', %s, %s, %s, %s, %s FROM moved
                    """,
                    [target, now, area_id, source, content_type_id, source, target, actor_id, reason, now],
                )
                moved += cursor.rowcount
                continue
            # SQLite holds one writer at a time, so the two statements in one transaction see the same rows.
            cursor.execute(
                f"""
                INSERT INTO {log_table} ({log_columns})
                SELECT %s, id, 'start_deployment', %s, %s, %s, %s, %s FROM {address_table}
                WHERE area_id = %s AND status = %s
                """,
                [content_type_id, source, target, actor_id, reason, now, area_id, source],
            )
            moved += AddressObject.objects.filter(area_id=area_id, status=source).update(status=target, updated_at=now)
    return moved


@transaction.atomic
def address_mark_surveyed(*, address_id: int, actor=None, reason: str = "") -> AddressObject:
    """Planned -> surveyed, for one address."""
    return transition_locked(AddressObject, address_id, "mark_surveyed", by=actor, reason=reason)


@transaction.atomic
def address_start_deployment(*, address_id: int, actor=None, reason: str = "") -> AddressObject:
    """One address (e.g. an infill) goes to in_deployment. Emits `address.in_deployment` {address_id}."""
    address = transition_locked(AddressObject, address_id, "start_deployment", by=actor, reason=reason)
    events.publish("address.in_deployment", address_id=address.pk, area_id=address.area_id)
    return address


@transaction.atomic
def address_mark_connected(*, address_id: int, actor=None, reason: str = "") -> AddressObject:
    """In deployment -> connected (drop and ONT installed). Emits `address.connected` {address_id}."""
    address = transition_locked(AddressObject, address_id, "mark_connected", by=actor, reason=reason)
    events.publish("address.connected", address_id=address.pk, area_id=address.area_id)
    return address


def postal_code_normalize(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


@transaction.atomic
def address_create(**fields) -> AddressObject:
    """Create one address object from GIS attributes; a bad or duplicate one is a ValidationError."""
    fields["postal_code"] = postal_code_normalize(fields.get("postal_code", ""))
    address = AddressObject(**fields)
    address.full_clean(exclude=["status"])
    try:
        with transaction.atomic():
            address.save()
    except IntegrityError as exc:
        raise ValidationError({"external_id": f"An address with external id {address.external_id!r} exists."}) from exc
    street_index_add(street=address.street, city=address.city)
    return address


def street_index_add(*, street: str, city: str) -> None:
    """Make sure (street, city) is in the search index."""
    AddressStreet.objects.get_or_create(street=street, city=city, defaults={"search_text": f"{street} {city}".lower()})


def street_index_refresh() -> int:
    """Add every (street, city) of the address objects that the search index lacks; for bulk imports."""
    pairs = set(AddressObject.objects.values_list("street", "city").distinct())
    missing = pairs - set(AddressStreet.objects.values_list("street", "city"))
    AddressStreet.objects.bulk_create(
        [AddressStreet(street=street, city=city, search_text=f"{street} {city}".lower()) for street, city in missing],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return len(missing)


@transaction.atomic
def membership_grant(*, user, organization: Organization, role: str) -> Membership:
    """Give a person a role in an organization; the role's Django group carries its permissions."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    membership, _ = Membership.objects.get_or_create(user=user, organization=organization, role=role)
    user.groups.add(role_group(role))
    if role in STAFF_ROLES and organization.kind == OrganizationKind.NETWORK_OPERATOR and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return membership


def providers_notify(*, provider_ids, event, topic: str, payload: dict | None = None) -> int:
    """Record one notification per provider for this event and topic (a second delivery of the event adds none)."""
    rows = ProviderNotification.objects.bulk_create(
        [
            ProviderNotification(provider_id=pid, event=event, topic=topic, payload=payload or event.payload)
            for pid in sorted(set(provider_ids))
        ],
        ignore_conflicts=True,
    )
    return len(rows)
