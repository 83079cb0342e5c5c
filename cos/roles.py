"""Roles are Django groups; this module says which permissions each role's group holds, and who is an admin.

The groups are brought in line with this table after every migrate (see CosConfig.ready). A person is put into a
role's group by a membership (cos.services.membership_save), never by hand.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from cos.choices import OrganizationKind, Role
from cos.models import Membership

# Operator staff who work in the admin.
STAFF_ROLES = (Role.ADMIN, Role.OPERATIONS, Role.FINANCE)

# role -> {app_label: actions on every model of the app} ("*" = all four actions)
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    Role.ADMIN: {
        "cos": ("*",),
        "marketplace": ("*",),
        "workorders": ("*",),
        "provisioning": ("*",),
        "billing": ("*",),
        "wholesale": ("*",),
        "auth": ("view", "add", "change"),
        "axes": ("view", "delete"),  # who is locked out; deleting an attempt unlocks the login
    },
    Role.OPERATIONS: {
        "cos": ("view", "add", "change"),
        "marketplace": ("view", "change"),
        "workorders": ("*",),
        "provisioning": ("*",),
        "billing": ("view",),
        "wholesale": ("view",),
    },
    Role.FINANCE: {
        "cos": ("view",),
        "marketplace": ("view",),
        "provisioning": ("view",),  # the ledger and the contract exceptions are revenue assurance
        "billing": ("*",),
        "wholesale": ("*",),
    },
    Role.FIELD_MANAGER: {"workorders": ("view", "change")},
    Role.TECHNICIAN: {"workorders": ("view",)},
    Role.API: {},
}

# Who may do what, and the keys to the API, are the admins' alone: whatever the table above gives a role on these
# models' apps, every other role holds at most the actions listed here.
ADMIN_MANAGED_MODELS: dict[tuple[str, str], tuple[str, ...]] = {
    ("cos", "membership"): ("view",),
    ("cos", "apitoken"): (),
}
# Beyond its apps' actions, a role may act on single models of another app: finance sends a failed message to a
# subscriber again (most are about invoices and payments), as it could when billing kept its own notices.
ROLE_MODEL_PERMISSIONS: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    Role.FINANCE: {("cos", "message"): ("view", "change")},
}
ACTIONS = ("view", "add", "change", "delete")


def role_group(role: str) -> Group:
    group, _ = Group.objects.get_or_create(name=role)
    return group


def role_permissions(role: str):
    """The permissions the role's group holds: its ROLE_PERMISSIONS, less what only admins may do."""
    condition = Q(pk__in=[])
    for app_label, actions in ROLE_PERMISSIONS[role].items():
        if "*" in actions:
            condition |= Q(content_type__app_label=app_label)
        else:
            for action in actions:
                condition |= Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
    for (app_label, model), actions in ROLE_MODEL_PERMISSIONS.get(role, {}).items():
        condition |= Q(content_type__app_label=app_label, codename__in=[f"{action}_{model}" for action in actions])
    permissions = Permission.objects.filter(condition)
    if role != Role.ADMIN:
        for (app_label, model), allowed in ADMIN_MANAGED_MODELS.items():
            refused = [f"{action}_{model}" for action in ACTIONS if action not in allowed]
            permissions = permissions.exclude(content_type__app_label=app_label, codename__in=refused)
    return permissions


def role_groups_sync(**_kwargs) -> None:
    """Create the role groups and give each exactly the permissions of ROLE_PERMISSIONS."""
    for role in ROLE_PERMISSIONS:
        role_group(role).permissions.set(role_permissions(role))


def is_admin(user) -> bool:
    """An active superuser, or an active person with the admin role at a network operator: who manages
    memberships, users, groups and API tokens. Remembered on the user object for the rest of the request."""
    if not getattr(user, "is_active", False):
        return False
    if user.is_superuser:
        return True
    if not hasattr(user, "_cos_is_admin"):
        user._cos_is_admin = Membership.objects.filter(
            user=user, role=Role.ADMIN, organization__kind=OrganizationKind.NETWORK_OPERATOR
        ).exists()
    return user._cos_is_admin


def user_caches_clear(user) -> None:
    """Forget what this user object remembers of its rights (after its memberships or groups changed)."""
    for cache in ("_cos_is_admin", "_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
