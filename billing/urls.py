from django.urls import path

from billing import views, webhook_views

urlpatterns = [
    path("billing/stripe/webhook/", webhook_views.stripe_webhook, name="stripe-webhook"),
    path("portal/invoices/", views.invoices, name="portal-invoices"),
    path("portal/invoices/<int:invoice_id>/", views.invoice_detail, name="portal-invoice"),
    path("portal/invoices/<int:invoice_id>/pdf/", views.invoice_pdf, name="portal-invoice-pdf"),
    path(
        "portal/billing-accounts/<int:account_id>/preferences/",
        views.preferences,
        name="portal-billing-preferences",
    ),
]
