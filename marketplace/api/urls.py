from django.urls import include, path
from rest_framework.routers import SimpleRouter

from marketplace.api import subscriptions, views

router = SimpleRouter()
router.register("terms", views.ContractTermViewSet, basename="term")
router.register("products", views.ProductViewSet, basename="product")
router.register("prices", views.PriceViewSet, basename="price")
router.register("promotions", views.PromotionViewSet, basename="promotion")
router.register("eligibility", views.EligibilityViewSet, basename="eligibility")
router.register("orders", views.OrderViewSet, basename="order")
router.register("subscriptions", subscriptions.SubscriptionViewSet, basename="subscription")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("addresses/", views.AddressSearchView.as_view(), name="address-search"),
    path("availability/", views.AvailabilityView.as_view(), name="availability"),
    path("", include(router.urls)),
]
