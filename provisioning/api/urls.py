"""Provisioning's part of the provider API: its viewsets go into the one router (cos.api.urls)."""

from provisioning.api import views


def register(router) -> None:
    router.register("services", views.ServiceViewSet, basename="service")
