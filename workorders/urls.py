from django.urls import path

from workorders import provisioning_status, views

urlpatterns = [
    path("field/", views.field_home, name="field-home"),
    path("field/assign/", views.field_assign, name="field-assign"),
    path("field/work-orders/<int:work_order_id>/", views.field_work_order, name="field-work-order"),
    path("field/work-orders/<int:work_order_id>/schedule/", views.field_schedule, name="field-schedule"),
    path(
        "field/work-orders/<int:work_order_id>/provisioning/",
        provisioning_status.field_provisioning,
        name="field-provisioning",
    ),
    path("field/tasks/<int:task_id>/", views.field_task, name="field-task"),
    path("field/notices/<int:notice_id>/read/", views.field_notice_read, name="field-notice-read"),
    path("field/evidence/<int:evidence_id>/<str:variant>", views.evidence_file, name="evidence-file"),
    path("ops/deployment/", views.ops_deployment, name="ops-deployment"),
]
