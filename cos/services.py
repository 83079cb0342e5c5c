"""Use cases of the core that write: areas, addresses, memberships, API tokens."""

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from cos import events
from cos.choices import AddressStatus, OrganizationKind, Role
from cos.errors import ApplicationError
from cos.fsm import transition_apply, transition_locked
from cos.models import (
    AddressObject,
    AddressStreet,
    ApiToken,
    Area,
    Customer,
    Membership,
    Organization,
    ProviderNotification,
    TransitionLog,
)
from cos.models.tokens import KEY_PREFIX_LENGTH, api_token_hash
from cos.roles import STAFF_ROLES, role_group, user_caches_clear
from cos.webhooks import notifications_fan_out

MOVABLE_TO_DEPLOYMENT = (AddressStatus.PLANNED, AddressStatus.SURVEYED)

# Who changed whose rights or keys: one line each (never a key).
security_log = logging.getLogger("cos.security")


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
    AddressStreet.objects.get_or_create(
        street=street, city=city, defaults={"search_text": AddressStreet.fold(f"{street} {city}")}
    )


def street_index_refresh() -> int:
    """Add every (street, city) of the address objects that the search index lacks; for bulk imports."""
    pairs = set(AddressObject.objects.values_list("street", "city").distinct())
    missing = pairs - set(AddressStreet.objects.values_list("street", "city"))
    AddressStreet.objects.bulk_create(
        [
            AddressStreet(street=street, city=city, search_text=AddressStreet.fold(f"{street} {city}"))
            for street, city in missing
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return len(missing)


def _grants_staff(memberships) -> bool:
    """Whether these memberships make their person operator staff (someone who works in the admin)."""
    return any(m.role in STAFF_ROLES and m.organization.kind == OrganizationKind.NETWORK_OPERATOR for m in memberships)


def _memberships_of(user_id: int) -> list[Membership]:
    return list(Membership.objects.filter(user_id=user_id).select_related("organization"))


def _user_roles_sync(*, user_id: int, was_staff_by_role: bool) -> None:
    """Give the person exactly the role groups of their memberships; grant or take back the staff flag they give.

    Only role groups are touched (other groups are the admins' own business), and the staff flag is only taken back
    when a membership had given it, never from a superuser or from someone an admin made staff by hand.
    """
    user = get_user_model().objects.select_for_update().get(pk=user_id)  # one change of a person's roles at a time
    memberships = _memberships_of(user_id)
    needed = {m.role for m in memberships}
    held = {group.name: group for group in user.groups.filter(name__in=Role.values)}
    user.groups.remove(*[group for name, group in held.items() if name not in needed])
    user.groups.add(*[role_group(role) for role in sorted(needed - held.keys())])
    staff_by_role = _grants_staff(memberships)
    if staff_by_role and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    elif was_staff_by_role and not staff_by_role and user.is_staff and not user.is_superuser:
        user.is_staff = False
        user.save(update_fields=["is_staff"])


@transaction.atomic
def membership_save(*, membership: Membership, actor=None) -> Membership:
    """Create or change a membership; the person then holds exactly the role groups of their memberships.

    A role changed away from, or a membership moved to another person, leaves the old role's group unless
    another membership of that person still needs it. The admin and the demo data both come through here.
    """
    if membership.role not in Role.values:
        raise ValidationError({"role": f"Unknown role {membership.role!r}."})
    membership.full_clean()
    previous_user_id = None
    if membership.pk is not None:
        previous_user_id = Membership.objects.filter(pk=membership.pk).values_list("user_id", flat=True).first()
    user_ids = sorted({membership.user_id} | ({previous_user_id} if previous_user_id else set()))
    staff_before = {user_id: _grants_staff(_memberships_of(user_id)) for user_id in user_ids}
    membership.save()
    for user_id in user_ids:
        _user_roles_sync(user_id=user_id, was_staff_by_role=staff_before[user_id])
    user_caches_clear(membership.user)
    security_log.info("membership saved: %s, by %s", membership, actor or "the system")
    return membership


@transaction.atomic
def membership_delete(*, membership_id: int, actor=None) -> None:
    """Remove a membership; its role's group goes with it unless another membership of the person still needs it."""
    membership = Membership.objects.select_related("user").get(pk=membership_id)
    staff_before = _grants_staff(_memberships_of(membership.user_id))
    label = str(membership)
    membership.delete()
    _user_roles_sync(user_id=membership.user_id, was_staff_by_role=staff_before)
    user_caches_clear(membership.user)
    security_log.info("membership deleted: %s, by %s", label, actor or "the system")


@transaction.atomic
def membership_grant(*, user, organization: Organization, role: str) -> Membership:
    """Give a person a role in an organization (nothing changes when they have it); the role's group carries its
    permissions."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    membership = Membership.objects.filter(user=user, organization=organization, role=role).first()
    if membership is None:
        membership = membership_save(membership=Membership(user=user, organization=organization, role=role))
    else:
        _user_roles_sync(user_id=user.pk, was_staff_by_role=False)  # a group lost by hand comes back
    user.is_staff = get_user_model().objects.filter(pk=user.pk).values_list("is_staff", flat=True).get()
    user_caches_clear(user)
    return membership


def user_role_groups_restore(*, user) -> None:
    """Put back the role groups a person's memberships give, after a form replaced their groups."""
    with transaction.atomic():
        _user_roles_sync(user_id=user.pk, was_staff_by_role=False)
    user_caches_clear(user)


# --- API tokens: the key is returned once and only its hash is kept ------------------------------------------------

# last_used_at is written at most this often per token, so a busy client does not cost a write per request.
API_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def api_token_check(*, name: str, expires_at: datetime | None) -> str:
    """The rules of a new token (a name, an expiry in the future, if any); returns the name as it is kept."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A token needs a name (what it is for)."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must lie in the future."})
    return name


def api_token_issue(
    *, user, name: str = "default", expires_at: datetime | None = None, actor=None
) -> tuple[ApiToken, str]:
    """Issue a new API token for `user`. Returns the token and its key: the key is not stored and cannot be shown
    again, so the caller hands it over now."""
    name = api_token_check(name=name, expires_at=expires_at)
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:KEY_PREFIX_LENGTH], key_hash=api_token_hash(key), expires_at=expires_at
    )
    security_log.info("API token issued: %s, by %s", token, actor or "the system")
    return token, key


def api_token_revoke(*, token_id: int, actor=None) -> ApiToken:
    """Revoke a token: it is refused from now on (revoking a revoked token changes nothing)."""
    if ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        security_log.info("API token revoked: #%s, by %s", token_id, actor or "the system")
    return ApiToken.objects.get(pk=token_id)


@transaction.atomic
def api_token_rotate(
    *, user, name: str | None = None, expires_at: datetime | None = None, actor=None
) -> tuple[ApiToken, str]:
    """Revoke every active token of `user` and issue a new one (named like the newest old one unless `name` is
    given). Returns the new token and its key, shown once."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()  # two rotations do not interleave
    active = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    newest = active.order_by("-created_at", "-id").first()
    if revoked := active.update(revoked_at=timezone.now()):
        security_log.info("API tokens of %s revoked for rotation: %s, by %s", user, revoked, actor or "the system")
    return api_token_issue(
        user=user, name=name or (newest.name if newest else "default"), expires_at=expires_at, actor=actor
    )


def api_token_mark_used(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record that the token was just used, at most once per API_TOKEN_TOUCH_INTERVAL (one conditional UPDATE)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < API_TOKEN_TOUCH_INTERVAL:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - API_TOKEN_TOUCH_INTERVAL)
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def providers_notify(*, provider_ids, event, topic: str, payload: dict | None = None) -> int:
    """Record one notification per provider for this event and topic (a second delivery of the event adds none) and
    put it on its way to each of the provider's webhook endpoints that wants it (cos.webhooks, after commit).
    Returns how many notifications are new."""
    wanted = set(provider_ids) - set(
        ProviderNotification.objects.filter(event=event, topic=topic, provider_id__in=set(provider_ids)).values_list(
            "provider_id", flat=True
        )
    )
    if not wanted:
        return 0
    ProviderNotification.objects.bulk_create(
        [
            ProviderNotification(provider_id=pid, event=event, topic=topic, payload=payload or event.payload)
            for pid in sorted(wanted)
        ],
        ignore_conflicts=True,
    )
    notifications_fan_out(
        list(ProviderNotification.objects.filter(event=event, topic=topic, provider_id__in=wanted).order_by("pk"))
    )
    return len(wanted)


@transaction.atomic
def customer_message_preferences_update(
    *, customer_id: int, language: str, notify_by_email: bool, notify_by_sms: bool, phone: str, actor=None
) -> Customer:
    """The subscriber's language and the channels their messages go by (cos.notifications). SMS need a mobile
    number, kept in E.164; an invoice e-mailed by its billing account is e-mailed whatever notify_by_email says."""
    from cos.sms import phone_e164

    customer = Customer.objects.select_for_update().get(pk=customer_id)
    problems = {}
    if language not in dict(settings.LANGUAGES):
        problems["language"] = f"Choose one of: {', '.join(name for _, name in settings.LANGUAGES)}."
    number = phone_e164(phone, country=customer.billing_country) if phone.strip() else ""
    if number is None:
        problems["phone"] = "Enter a mobile number, e.g. 070-123 45 67 or +46 70 123 45 67."
    elif notify_by_sms and not number:
        problems["phone"] = "Enter the mobile number the SMS go to."
    if problems:
        raise ApplicationError("Check the marked fields.", code="invalid_preferences", extra={"fields": problems})
    customer.language, customer.phone = language, number
    customer.notify_by_email, customer.notify_by_sms = notify_by_email, notify_by_sms
    customer.save(update_fields=["language", "phone", "notify_by_email", "notify_by_sms", "updated_at"])
    return customer
