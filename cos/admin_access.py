"""Admin of who may do what: memberships, users, groups and API tokens.

Only admins manage them (cos.roles.is_admin: an admin of the network operator, or a superuser), on top of the Django
permissions. Roles cannot be climbed: a person's role groups come from their memberships only (through
cos.services), only a superuser makes a superuser or touches one, and nobody hands out a permission they do not hold.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from cos import services
from cos.admin_tools import ActionForm, action_with_form, refusal_text, service_action
from cos.choices import Role
from cos.models import ApiToken, Membership
from cos.roles import is_admin

User = get_user_model()

KEY_SHOWN_ONCE = "copy it now: it is not shown again"


def may_manage(actor, user) -> bool:
    """Whether `actor` may change `user` (or act for them, e.g. issue their API token): a superuser only by one."""
    return actor.is_superuser or not user.is_superuser


def permissions_held(user):
    """The permissions a user holds, directly or through groups: all a non-superuser may hand out."""
    if user.is_superuser:
        return Permission.objects.all()
    return Permission.objects.filter(Q(group__user=user) | Q(user=user)).distinct()


class AdminManagedMixin:
    """Add, change and delete only for admins, and only where the Django permissions allow it too."""

    def has_add_permission(self, request, *args) -> bool:
        return is_admin(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_admin(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_admin(request.user) and super().has_delete_permission(request, obj)


class AdminOnlyMixin(AdminManagedMixin):
    """Not even shown to anyone but admins."""

    def has_view_permission(self, request, obj=None) -> bool:
        return is_admin(request.user) and super().has_view_permission(request, obj)

    def has_module_permission(self, request) -> bool:
        return is_admin(request.user) and super().has_module_permission(request)


# --- memberships ------------------------------------------------------------------------------------------------


class MembershipFormSet(BaseInlineFormSet):
    """Saves and deletes through the membership services, so each row grants exactly its role's group."""

    actor = None

    def save_new(self, form, commit=True):
        membership = super().save_new(form, commit=False)
        return services.membership_save(membership=membership, actor=self.actor) if commit else membership

    def save_existing(self, form, obj, commit=True):
        membership = form.save(commit=False)
        return services.membership_save(membership=membership, actor=self.actor) if commit else membership

    def delete_existing(self, obj, commit=True):
        if commit:
            services.membership_delete(membership_id=obj.pk, actor=self.actor)


class MembershipInline(AdminManagedMixin, admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    autocomplete_fields = ("user",)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"actor": request.user})


@admin.register(Membership)
class MembershipAdmin(AdminManagedMixin, admin.ModelAdmin):
    list_display = ("user", "organization", "role")
    list_filter = ("role", "organization__kind", "organization")
    search_fields = ("user__username", "user__email", "organization__name")
    list_select_related = ("user", "organization")
    autocomplete_fields = ("user", "organization")

    def get_readonly_fields(self, request, obj=None):
        return ("user", "organization") if obj is not None else ()  # another person or place is a new membership

    def save_model(self, request, obj, form, change):
        services.membership_save(membership=obj, actor=request.user)

    def delete_model(self, request, obj):
        services.membership_delete(membership_id=obj.pk, actor=request.user)

    def delete_queryset(self, request, queryset):
        for membership_id in queryset.order_by("pk").values_list("pk", flat=True):
            services.membership_delete(membership_id=membership_id, actor=request.user)


# --- API tokens -------------------------------------------------------------------------------------------------


class IssueTokenForm(ActionForm):
    name = forms.CharField(initial="default", max_length=100, help_text="What the token is for, e.g. 'production'.")
    expires_at = forms.DateTimeField(required=False, label="Expires at", help_text="Empty: it does not expire.")

    def clean(self):
        data = super().clean()
        if "name" in data:
            data["name"] = services.api_token_check(name=data["name"], expires_at=data.get("expires_at"))
        return data


def keys_page(modeladmin, request, issued: list[tuple[ApiToken, str]]) -> TemplateResponse:
    """The page that shows keys an action just issued, once. It is rendered, never stored: keys in messages could
    overflow the message cookie into the session table."""
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "New API keys",
        "issued": issued,
        "back_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        "back_label": opts.verbose_name_plural,
    }
    response = TemplateResponse(request, "admin/cos/api_token_keys.html", context)
    add_never_cache_headers(response)
    return response


class ApiTokenAddForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("user", "name", "expires_at")

    actor = None

    def clean(self):
        data = super().clean()
        user = data.get("user")
        if user is not None and not may_manage(self.actor, user):
            raise ValidationError({"user": "Only a superuser issues a superuser's token."})
        if "name" in data:
            data["name"] = services.api_token_check(name=data["name"], expires_at=data.get("expires_at"))
        return data


@admin.register(ApiToken)
class ApiTokenAdmin(AdminOnlyMixin, admin.ModelAdmin):
    """Who holds which key, by its first characters; the key itself is shown once when it is issued, never here."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "name", "=prefix")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    date_hierarchy = "created_at"
    actions = [
        "rotate",
        service_action(services.api_token_revoke, id_arg="token_id", description="Revoke"),
    ]

    def get_fields(self, request, obj=None):
        return ApiTokenAddForm.Meta.fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = type("ApiTokenAddForm", (ApiTokenAddForm,), {"actor": request.user})
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None) -> bool:
        # A token is never edited (its actions revoke and rotate it): the change page is a view.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoked, never deleted: who held a key, and when, stays on record

    def save_model(self, request, obj, form, change):
        token, key = services.api_token_issue(
            user=obj.user, name=obj.name, expires_at=obj.expires_at, actor=request.user
        )
        for field in ApiToken._meta.concrete_fields:  # the add view goes on with the issued token
            setattr(obj, field.attname, getattr(token, field.attname))
        obj._state.adding = False
        self.message_user(request, f"The key of {token}: {key} ({KEY_SHOWN_ONCE})", messages.WARNING)

    @admin.action(description="Rotate: revoke the user's tokens and issue a new one", permissions=["change"])
    def rotate(self, request, queryset):
        newest_by_user = {}
        for token in queryset.select_related("user").order_by("created_at", "pk"):
            newest_by_user[token.user_id] = token
        issued = []
        for old in newest_by_user.values():
            if not may_manage(request.user, old.user):
                self.message_user(request, f"{old}: only a superuser rotates a superuser's token.", messages.ERROR)
                continue
            try:
                issued.append(services.api_token_rotate(user=old.user, name=old.name, actor=request.user))
            except ValidationError as refused:
                self.message_user(request, f"{old}: {refusal_text(refused)}", messages.ERROR)
        return keys_page(self, request, issued)


# --- users and groups -------------------------------------------------------------------------------------------

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(AdminOnlyMixin, DjangoUserAdmin):
    actions = ["issue_api_token"]

    @admin.action(description="Issue a new API token", permissions=["change"])
    def issue_api_token(self, request, queryset):
        issued = []

        def apply(data):
            for user in queryset.order_by("pk"):
                if not may_manage(request.user, user):
                    self.message_user(request, f"{user}: only a superuser issues a superuser's token.", messages.ERROR)
                    continue
                issued.append(
                    services.api_token_issue(
                        user=user, name=data["name"], expires_at=data["expires_at"], actor=request.user
                    )
                )

        form_page = action_with_form(
            self, request, queryset, form_class=IssueTokenForm, title="Issue a new API token", apply=apply
        )
        return form_page if form_page is not None else keys_page(self, request, issued)

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj), "last_login", "date_joined"]
        if not request.user.is_superuser:
            # Rights beyond a role come from a superuser; roles come from memberships.
            fields += ["is_superuser", "groups", "user_permissions"]
        return fields

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and not may_manage(request.user, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and not may_manage(request.user, obj):
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["queryset"] = Group.objects.exclude(name__in=Role.values)
            kwargs["help_text"] = "Role groups (admin, operations, ...) come from the person's memberships."
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.user_role_groups_restore(user=form.instance)  # the form set the other groups only


@admin.register(Group)
class GroupAdmin(AdminOnlyMixin, DjangoGroupAdmin):
    list_display = ("name", "is_role")

    @admin.display(boolean=True, description="role group")
    def is_role(self, obj) -> bool:
        return obj.name in Role.values

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.name in Role.values:
            return False  # a role's permissions are cos.roles.ROLE_PERMISSIONS, applied on every migrate
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.name in Role.values:
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "permissions":
            kwargs["queryset"] = permissions_held(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)
