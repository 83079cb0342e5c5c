"""Who may do what in the field: technicians, contractor field managers, operator staff."""

from dataclasses import dataclass

from cos.choices import OrganizationKind, Role
from cos.models import Membership

FIELD_ROLES = (Role.TECHNICIAN, Role.FIELD_MANAGER)
OPERATOR_FIELD_STAFF = (Role.ADMIN, Role.OPERATIONS, Role.FIELD_MANAGER)


@dataclass(frozen=True)
class FieldActor:
    """A user's standing in the field, loaded once per request."""

    user: object
    organization_ids: frozenset  # organizations the user does field work for
    managed_organization_ids: frozenset  # organizations where the user is field manager
    is_operator_staff: bool  # operations, admin or field manager of the network operator (or superuser)

    @classmethod
    def of(cls, user) -> "FieldActor":
        memberships = list(Membership.objects.filter(user=user).select_related("organization"))
        field = {m.organization_id for m in memberships if m.role in FIELD_ROLES}
        managed = {m.organization_id for m in memberships if m.role == Role.FIELD_MANAGER}
        operator_staff = user.is_superuser or any(
            m.role in OPERATOR_FIELD_STAFF and m.organization.kind == OrganizationKind.NETWORK_OPERATOR
            for m in memberships
        )
        return cls(user, frozenset(field), frozenset(managed), operator_staff)

    @property
    def organization_id(self) -> int | None:
        """The organization the user's work counts for (the first field organization)."""
        return min(self.organization_ids) if self.organization_ids else None

    def can_work(self, task) -> bool:
        """Record evidence and close or skip: the assignee, its organization's people, or operator staff."""
        return (
            self.is_operator_staff
            or task.assigned_user_id == self.user.pk
            or (task.assigned_organization_id is not None and task.assigned_organization_id in self.organization_ids)
        )

    def can_see(self, task) -> bool:
        return self.can_work(task)

    def can_assign(self, task, *, user_org_ids: set[int] | None, organization_id: int | None) -> bool:
        """Operator staff assign anything; a contractor's field manager assigns its own tasks to its own people."""
        if self.is_operator_staff:
            return True
        if task.assigned_organization_id not in self.managed_organization_ids:
            return False
        if organization_id is not None and organization_id != task.assigned_organization_id:
            return False
        return user_org_ids is None or task.assigned_organization_id in user_org_ids

    def can_reopen(self, task) -> bool:
        """Operator staff, the field manager of the task's organization, or the technician the task is (or was
        done) for: a technician who closed a task too early takes it back himself."""
        return (
            self.is_operator_staff
            or (
                task.assigned_organization_id is not None
                and task.assigned_organization_id in self.managed_organization_ids
            )
            or (self.can_work(task) and self.user.pk in (task.assigned_user_id, task.completed_by_id))
        )

    def can_schedule(self, tasks) -> bool:
        """Operator staff schedule any job; a field manager the jobs with a task of the organization."""
        return self.is_operator_staff or any(
            task.assigned_organization_id in self.managed_organization_ids for task in tasks
        )

    @property
    def works_in_the_field(self) -> bool:
        return self.is_operator_staff or bool(self.organization_ids)
