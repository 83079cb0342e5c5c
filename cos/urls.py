from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cos import views

admin.site.site_header = "COS operations"
admin.site.site_title = "COS"
admin.site.index_title = "Network, marketplace, field work and billing"
# No model sidebar beside every page: at 1366 px it took the width the change lists need. /ops/ and the index lead
# to the sections instead.
admin.site.enable_nav_sidebar = False
admin.site.site_url = "/ops/"  # the admin's "View site": the operator console

handler400 = "cos.api.errors.bad_request"
handler403 = "cos.api.errors.permission_denied"
handler404 = "cos.api.errors.not_found"
handler500 = "cos.api.errors.server_error"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("privacy/", views.privacy, name="privacy"),
    path("portal/messages/", views.portal_messages, name="portal-messages"),
    path("favicon.ico", views.favicon),
    path("admin/", admin.site.urls),
    path(
        "accounts/password_reset/",
        views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("cos.api.urls")),
    path("tmf-api/", include("tmf.urls")),  # the TM Forum Open APIs over the same services
    path("", include("cos.ops")),  # /ops/: the operator console
    path("", include("workorders.urls")),
    path("", include("billing.urls")),
    path("", include("wholesale.urls")),  # /ops/settlement/: the operator's month of settlement
    path("", include("assurance.urls")),  # /ops/board/: the revenue-assurance board
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("marketplace.urls")),
]

# Uploaded evidence is not served from MEDIA_URL, with DEBUG on or off: workorders.views.evidence_file checks who asks.
