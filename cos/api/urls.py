"""The provider API's one router (mounted on /api/v1/).

Every installed app with an `api/urls.py` takes part, found the way the admin finds `admin.py` modules, so the core
imports no app above it: the module's `register(router)` registers its viewsets, and its `urlpatterns` (if any) adds
the app's paths that are no viewset. A new endpoint is served, documented and walked by the tenancy test without
touching this file.
"""

from importlib import import_module

from django.apps import apps
from django.urls import include, path
from django.utils.module_loading import module_has_submodule
from rest_framework.routers import SimpleRouter

from cos.api import webhooks as core_webhooks

APP_MODULE = "api.urls"


def provider_router() -> SimpleRouter:
    """A router whose routes match with or without the trailing slash: a POST is never redirected."""
    router = SimpleRouter()
    router.trailing_slash = "/?"
    return router


def app_api_modules() -> list:
    """The `<app>.api.urls` module of each installed app that has one, in INSTALLED_APPS order."""
    found = []
    for config in apps.get_app_configs():
        name = f"{config.name}.{APP_MODULE}"
        if name == __name__ or not module_has_submodule(config.module, "api"):
            continue
        if module_has_submodule(import_module(f"{config.name}.api"), "urls"):
            found.append(import_module(name))
    return found


router = provider_router()
core_webhooks.register(router)  # the core's own: webhook endpoints, deliveries, events
extra_patterns = []
for module in app_api_modules():
    module.register(router)
    extra_patterns += getattr(module, "urlpatterns", [])

urlpatterns = [*extra_patterns, path("", include(router.urls))]
