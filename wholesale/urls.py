from django.urls import path

from wholesale import views

urlpatterns = [
    path("ops/settlement/", views.ops_settlement, name="ops-settlement"),
]
