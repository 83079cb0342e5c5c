from rest_framework.routers import SimpleRouter

from provisioning.api import views

router = SimpleRouter()
router.trailing_slash = "/?"  # with or without the slash: a POST is never redirected
router.register("services", views.ServiceViewSet, basename="service")

urlpatterns = router.urls
