from rest_framework.routers import SimpleRouter

from provisioning.api import views

router = SimpleRouter()
router.register("services", views.ServiceViewSet, basename="service")

urlpatterns = router.urls
