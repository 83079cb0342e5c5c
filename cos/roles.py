"""Roles are Django groups; this module says which permissions each role's group holds.

The groups are brought in line with this table after every migrate (see CosConfig.ready).
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from cos.choices import Role

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
        "authtoken": ("*",),
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


def role_group(role: str) -> Group:
    group, _ = Group.objects.get_or_create(name=role)
    return group


def role_groups_sync(**_kwargs) -> None:
    """Create the role groups and give each exactly the permissions of ROLE_PERMISSIONS."""
    for role, grants in ROLE_PERMISSIONS.items():
        condition = Q(pk__in=[])
        for app_label, actions in grants.items():
            if "*" in actions:
                condition |= Q(content_type__app_label=app_label)
            else:
                for action in actions:
                    condition |= Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
        role_group(role).permissions.set(Permission.objects.filter(condition))
