from django.urls import path

from billing import views

urlpatterns = [
    path("portal/invoices/", views.invoices, name="portal-invoices"),
    path("portal/invoices/<int:invoice_id>/", views.invoice_detail, name="portal-invoice"),
    path("portal/invoices/<int:invoice_id>/pdf/", views.invoice_pdf, name="portal-invoice-pdf"),
    path(
        "portal/billing-accounts/<int:account_id>/preferences/",
        views.preferences,
        name="portal-billing-preferences",
    ),
]
