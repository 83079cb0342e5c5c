"""Roles cannot be climbed: only admins manage memberships, users, groups and tokens in the admin, nobody grants
more than they hold, and a membership always grants exactly its role's group."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from cos.choices import Role
from cos.models import Membership
from cos.roles import ROLE_PERMISSIONS, is_admin
from cos.services import membership_delete, membership_grant, membership_save
from tests.cos.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return OrganizationFactory(kind="network_operator", name="FibraNät", slug="fibranat")


def _staff(client, operator, role, username=None):
    """A person with `role` at the network operator, logged in to the admin."""
    user = UserFactory(username=username or role)
    membership_grant(user=user, organization=operator, role=role)
    client.force_login(user)
    return user


def _roles_of(user) -> set[str]:
    return set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))


def _user_form(user, **overrides) -> dict:
    """The user change form as the admin posts it."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
    }
    if user.is_staff:
        data["is_staff"] = "on"
    data.update(overrides)
    return data


def _organization_form(organization, rows) -> dict:
    """The organization change form with its membership rows (each a dict of id, user, role, DELETE)."""
    data = {
        "name": organization.name,
        "slug": organization.slug,
        "kind": organization.kind,
        "email": "",
        "phone": "",
        "country": organization.country,
        "memberships-TOTAL_FORMS": len(rows),
        "memberships-INITIAL_FORMS": sum(1 for row in rows if row.get("id")),
        "memberships-MIN_NUM_FORMS": 0,
        "memberships-MAX_NUM_FORMS": 1000,
    }
    for index, row in enumerate(rows):
        data[f"memberships-{index}-organization"] = organization.pk
        for field, value in row.items():
            data[f"memberships-{index}-{field}"] = value
    return data


# --- operations and finance cannot manage rights -----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OPERATIONS, Role.FINANCE])
def test_operations_and_finance_cannot_open_the_membership_add_page(client, operator, role):
    # given
    _staff(client, operator, role)

    # when
    response = client.get(reverse("admin:cos_membership_add"))

    # then
    assert response.status_code == 403


def test_operations_cannot_make_itself_admin_with_a_membership(client, operator):
    # given
    user = _staff(client, operator, Role.OPERATIONS)

    # when
    response = client.post(
        reverse("admin:cos_membership_add"), {"user": user.pk, "organization": operator.pk, "role": Role.ADMIN}
    )

    # then: refused, and nothing changed
    assert response.status_code == 403
    assert list(Membership.objects.filter(user=user).values_list("role", flat=True)) == [Role.OPERATIONS]
    assert _roles_of(user) == {Role.OPERATIONS}
    assert not is_admin(user)


def test_operations_cannot_add_a_membership_through_the_organization_page(client, operator):
    # given
    user = _staff(client, operator, Role.OPERATIONS)

    # when: the organization form is posted with a new admin membership for itself
    response = client.post(
        reverse("admin:cos_organization_change", args=[operator.pk]),
        _organization_form(operator, [{"user": user.pk, "role": Role.ADMIN}]),
    )

    # then: the organization is saved (operations may change it), the membership row is not
    assert response.status_code == 302
    assert not Membership.objects.filter(user=user, role=Role.ADMIN).exists()
    assert _roles_of(user) == {Role.OPERATIONS}


def test_a_permission_given_by_hand_does_not_make_an_admin(client, operator):
    # given: operations, with the membership permissions given directly, and an admin of a service provider
    user = _staff(client, operator, Role.OPERATIONS)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["add_membership", "view_user"]))
    provider_admin = UserFactory()
    membership_grant(user=provider_admin, organization=OrganizationFactory(), role=Role.ADMIN)

    # when
    response = client.post(
        reverse("admin:cos_membership_add"), {"user": user.pk, "organization": operator.pk, "role": Role.ADMIN}
    )

    # then: managing rights takes an admin membership at the network operator
    assert response.status_code == 403
    assert not Membership.objects.filter(user=user, role=Role.ADMIN).exists()
    assert not is_admin(provider_admin)


def test_operations_cannot_change_or_delete_a_membership(client, operator):
    # given
    user = _staff(client, operator, Role.OPERATIONS)
    membership = Membership.objects.get(user=user)

    # when
    change = client.post(reverse("admin:cos_membership_change", args=[membership.pk]), {"role": Role.ADMIN})
    delete = client.post(reverse("admin:cos_membership_delete", args=[membership.pk]), {"post": "yes"})

    # then
    assert change.status_code == 403
    assert delete.status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.OPERATIONS


@pytest.mark.parametrize("role", [Role.OPERATIONS, Role.FINANCE])
@pytest.mark.parametrize(
    "url_name", ["admin:auth_user_changelist", "admin:auth_group_changelist", "admin:cos_apitoken_changelist"]
)
def test_operations_and_finance_do_not_see_users_groups_or_tokens(client, operator, role, url_name):
    # given
    _staff(client, operator, role)

    # when
    response = client.get(reverse(url_name))

    # then
    assert response.status_code == 403


def test_operations_cannot_escalate_through_the_user_change_form(client, operator):
    # given
    user = _staff(client, operator, Role.OPERATIONS)
    admin_group = Group.objects.get(name=Role.ADMIN)
    anything = Permission.objects.get(codename="delete_user")

    # when: its own user form, with superuser, the admin group and a permission ticked
    response = client.post(
        reverse("admin:auth_user_change", args=[user.pk]),
        _user_form(user, is_superuser="on", groups=[admin_group.pk], user_permissions=[anything.pk]),
    )

    # then
    assert response.status_code == 403
    user.refresh_from_db()
    assert not user.is_superuser
    assert _roles_of(user) == {Role.OPERATIONS}
    assert not user.user_permissions.exists()


def test_the_operations_role_holds_no_right_to_manage_memberships_or_tokens():
    # given
    operations = Group.objects.get(name=Role.OPERATIONS)
    admin = Group.objects.get(name=Role.ADMIN)

    # when
    held = set(operations.permissions.values_list("codename", flat=True))

    # then: it still changes areas, sees memberships, and no more
    assert "change_area" in held
    assert "view_membership" in held
    assert not {"add_membership", "change_membership", "delete_membership"} & held
    assert not {code for code in held if code.endswith("_apitoken")}
    assert not operations.permissions.filter(content_type__app_label="auth").exists()
    assert {"add_membership", "change_membership", "add_apitoken"} <= set(
        admin.permissions.values_list("codename", flat=True)
    )
    assert "authtoken" not in ROLE_PERMISSIONS[Role.ADMIN]


# --- a non-superuser admin manages people, but cannot climb above admin ------------------------------------------


def test_a_non_superuser_admin_cannot_tick_superuser_or_grant_permissions(client, operator):
    # given
    admin_user = _staff(client, operator, Role.ADMIN)
    other = UserFactory(username="kim")
    anything = Permission.objects.get(codename="delete_user")

    # when: the admin's own form and another person's, with superuser and a permission ticked
    own = client.post(
        reverse("admin:auth_user_change", args=[admin_user.pk]),
        _user_form(admin_user, is_superuser="on", user_permissions=[anything.pk]),
    )
    theirs = client.post(
        reverse("admin:auth_user_change", args=[other.pk]),
        _user_form(other, first_name="Kim", is_superuser="on", user_permissions=[anything.pk]),
    )

    # then: the other fields are saved, the rights are not
    assert own.status_code == 302
    assert theirs.status_code == 302
    for user in (admin_user, other):
        user.refresh_from_db()
        assert not user.is_superuser
        assert not user.user_permissions.exists()
    assert other.first_name == "Kim"
    page = client.get(reverse("admin:auth_user_change", args=[other.pk])).content.decode()
    assert 'name="is_superuser"' not in page


def test_a_non_superuser_admin_cannot_change_a_superuser(client, operator, django_user_model):
    # given
    _staff(client, operator, Role.ADMIN)
    root = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456")

    # when
    change = client.post(reverse("admin:auth_user_change", args=[root.pk]), _user_form(root, is_superuser=""))
    password = client.post(
        reverse("admin:auth_user_password_change", args=[root.pk]),
        {"password1": "Taken-over-9", "password2": "Taken-over-9"},
    )

    # then
    assert change.status_code == 403
    assert password.status_code == 403
    root.refresh_from_db()
    assert root.is_superuser
    assert root.check_password("pw-123456")


def test_a_non_superuser_admin_hands_out_only_permissions_it_holds(client, operator):
    # given: an admin holds no auth.delete_user
    _staff(client, operator, Role.ADMIN)
    not_held = Permission.objects.get(codename="delete_user")

    # when
    response = client.post(reverse("admin:auth_group_add"), {"name": "cleaners", "permissions": [not_held.pk]})

    # then
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Group.objects.filter(name="cleaners").exists()


def test_role_groups_are_read_only_in_the_admin(client, operator):
    # given
    _staff(client, operator, Role.ADMIN)
    operations = Group.objects.get(name=Role.OPERATIONS)
    before = set(operations.permissions.values_list("pk", flat=True))

    # when
    response = client.post(
        reverse("admin:auth_group_change", args=[operations.pk]),
        {"name": Role.OPERATIONS, "permissions": list(Permission.objects.values_list("pk", flat=True))},
    )

    # then
    assert response.status_code == 403
    assert set(operations.permissions.values_list("pk", flat=True)) == before


def test_role_groups_come_from_memberships_even_on_a_superusers_user_form(admin_client, operator):
    # given: finance at the operator, and another group
    user = UserFactory(username="eva")
    membership_grant(user=user, organization=operator, role=Role.FINANCE)
    auditors = Group.objects.create(name="auditors")

    # when: a superuser saves the form with only the other group (role groups are not offered)
    page = admin_client.get(reverse("admin:auth_user_change", args=[user.pk])).content.decode()
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[user.pk]), _user_form(user, groups=[auditors.pk])
    )

    # then
    assert (
        f'value="{Group.objects.get(name=Role.ADMIN).pk}"' not in page.split('name="groups"')[1].split("</select>")[0]
    )
    assert response.status_code == 302
    assert set(user.groups.values_list("name", flat=True)) == {Role.FINANCE, "auditors"}


# --- a membership grants exactly its role's group ----------------------------------------------------------------


def test_an_admin_made_membership_grants_exactly_the_roles_group(client, operator):
    # given
    _staff(client, operator, Role.ADMIN, username="boss")
    user = UserFactory(username="eva")

    # when
    response = client.post(
        reverse("admin:cos_membership_add"), {"user": user.pk, "organization": operator.pk, "role": Role.FINANCE}
    )

    # then
    assert response.status_code == 302
    user.refresh_from_db()
    assert _roles_of(user) == {Role.FINANCE}
    assert user.is_staff
    assert user.has_perm("billing.view_invoice")
    assert not user.has_perm("cos.change_area")


def test_changing_the_role_in_the_admin_removes_the_old_roles_group(client, operator):
    # given
    _staff(client, operator, Role.ADMIN, username="boss")
    user = UserFactory(username="eva")
    membership = membership_grant(user=user, organization=operator, role=Role.FINANCE)

    # when
    response = client.post(reverse("admin:cos_membership_change", args=[membership.pk]), {"role": Role.OPERATIONS})

    # then
    assert response.status_code == 302
    assert _roles_of(user) == {Role.OPERATIONS}
    user = type(user).objects.get(pk=user.pk)
    assert user.has_perm("cos.change_area")
    assert not user.has_perm("billing.add_invoice")


def test_the_organization_page_adds_changes_and_removes_memberships_through_the_service(client, operator):
    # given
    _staff(client, operator, Role.ADMIN, username="boss")
    user = UserFactory(username="eva")
    url = reverse("admin:cos_organization_change", args=[operator.pk])
    boss_row = {"id": Membership.objects.get(user__username="boss").pk, "user": client.session["_auth_user_id"]}
    boss_row["role"] = Role.ADMIN

    # when: added as finance
    added = client.post(url, _organization_form(operator, [boss_row, {"user": user.pk, "role": Role.FINANCE}]))
    # then
    assert added.status_code == 302
    assert _roles_of(user) == {Role.FINANCE}
    membership = Membership.objects.get(user=user)

    # when: changed to operations
    client.post(
        url, _organization_form(operator, [boss_row, {"id": membership.pk, "user": user.pk, "role": "operations"}])
    )
    # then
    assert _roles_of(user) == {Role.OPERATIONS}

    # when: removed
    row = {"id": membership.pk, "user": user.pk, "role": Role.OPERATIONS, "DELETE": "on"}
    client.post(url, _organization_form(operator, [boss_row, row]))
    # then
    assert not Membership.objects.filter(user=user).exists()
    assert _roles_of(user) == set()
    user.refresh_from_db()
    assert not user.is_staff


def test_a_roles_group_stays_while_another_membership_needs_it(operator):
    # given: finance at two organizations
    user = UserFactory()
    first = membership_grant(user=user, organization=operator, role=Role.FINANCE)
    second = membership_grant(user=user, organization=OrganizationFactory(kind="network_operator"), role=Role.FINANCE)

    # when
    membership_delete(membership_id=first.pk)

    # then
    assert _roles_of(user) == {Role.FINANCE}
    membership_delete(membership_id=second.pk)
    assert _roles_of(user) == set()


def test_moving_a_membership_to_another_person_moves_the_group(operator):
    # given
    anna, bo = UserFactory(), UserFactory()
    membership = membership_grant(user=anna, organization=operator, role=Role.OPERATIONS)

    # when
    membership.user = bo
    membership_save(membership=membership)

    # then
    assert _roles_of(anna) == set()
    assert _roles_of(bo) == {Role.OPERATIONS}
    anna.refresh_from_db()
    assert not anna.is_staff


def test_a_superuser_keeps_staff_when_its_last_membership_goes(operator, django_user_model):
    # given
    root = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456")
    membership = membership_grant(user=root, organization=operator, role=Role.OPERATIONS)

    # when
    membership_delete(membership_id=membership.pk)

    # then
    root.refresh_from_db()
    assert root.is_staff
    assert _roles_of(root) == set()


def test_an_admin_opens_the_pages_that_manage_rights(client, operator):
    # given
    admin_user = _staff(client, operator, Role.ADMIN)
    operations = Group.objects.get(name=Role.OPERATIONS)
    urls = [
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_change", args=[admin_user.pk]),
        reverse("admin:auth_group_changelist"),
        reverse("admin:auth_group_change", args=[operations.pk]),
        reverse("admin:cos_membership_add"),
        reverse("admin:cos_apitoken_changelist"),
        reverse("admin:cos_apitoken_add"),
    ]

    # when
    statuses = {url: client.get(url).status_code for url in urls}

    # then
    assert statuses == dict.fromkeys(urls, 200)
