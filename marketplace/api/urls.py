"""The marketplace's part of the provider API: its viewsets go into the one router (cos.api.urls), its other views
are the paths below."""

from django.urls import re_path

from marketplace.api import subscriptions, views


def register(router) -> None:
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
]
