"""Wholesale's part of the provider API: its viewsets go into the one router (cos.api.urls)."""

from wholesale.api import views


def register(router) -> None:
    router.register("statements", views.StatementViewSet, basename="statement")
    router.register("disputes", views.DisputeViewSet, basename="dispute")
    router.register("rate-cards", views.RateCardViewSet, basename="rate-card")
