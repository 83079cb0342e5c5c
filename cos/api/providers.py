"""Who is calling the provider API: the service provider organization behind the token, in one place."""

from rest_framework.permissions import BasePermission

from cos.api.parsers import SafeJSONParser
from cos.choices import OrganizationKind
from cos.models import Organization


def provider_of(user) -> Organization | None:
    """The service provider the user works for (through a membership), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Organization.objects.filter(memberships__user=user, kind=OrganizationKind.SERVICE_PROVIDER)
        .order_by("pk")
        .first()
    )


class IsServiceProvider(BasePermission):
    """Only people of a service provider use the provider API; the provider is put on request.provider."""

    message = "This API is for service providers: the token's user belongs to no service provider."
    code = "not_a_provider"

    def has_permission(self, request, view) -> bool:
        if not hasattr(request, "provider"):
            # A provider's API token brings its provider along (cos.api.authentication); a session looks it up.
            known = getattr(request.auth, "provider", None)
            request.provider = known if known is not None else provider_of(request.user)
        return request.provider is not None


class ProviderScopedMixin:
    """Every queryset of a provider API view is cut to the calling provider's rows: the tenancy rule lives here.

    `provider_lookup` names the path from the view's model to its provider.
    """

    permission_classes = [IsServiceProvider]
    parser_classes = [SafeJSONParser]  # the API speaks JSON: form encodings cannot say null, a list or an object
    provider_lookup = "provider"

    def get_queryset(self):
        return super().get_queryset().filter(**{self.provider_lookup: self.request.provider})
