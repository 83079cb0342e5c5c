from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from marketplace.api import subscriptions, views

router = SimpleRouter()
router.trailing_slash = "/?"  # with or without the slash: a POST is never redirected
router.register("terms", views.ContractTermViewSet, basename="term")
router.register("products", views.ProductViewSet, basename="product")
router.register("prices", views.PriceViewSet, basename="price")
router.register("promotions", views.PromotionViewSet, basename="promotion")
router.register("eligibility", views.EligibilityViewSet, basename="eligibility")
router.register("orders", views.OrderViewSet, basename="order")
router.register("subscriptions", subscriptions.SubscriptionViewSet, basename="subscription")

urlpatterns = [
    re_path(r"^me/?$", views.MeView.as_view(), name="me"),
    re_path(r"^addresses/?$", views.AddressSearchView.as_view(), name="address-search"),
    re_path(r"^availability/?$", views.AvailabilityView.as_view(), name="availability"),
    path("", include(router.urls)),
]
