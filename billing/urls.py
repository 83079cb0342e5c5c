from django.urls import path

from billing import payment_views, views, webhook_views

urlpatterns = [
    path("billing/stripe/webhook/", webhook_views.stripe_webhook, name="stripe-webhook"),
    path("portal/invoices/", views.invoices, name="portal-invoices"),
    # The invoice page, with its "Pay now" form and payment status.
    path("portal/invoices/<int:invoice_id>/", payment_views.invoice_detail, name="portal-invoice"),
    path("portal/invoices/<int:invoice_id>/pdf/", views.invoice_pdf, name="portal-invoice-pdf"),
    path("portal/invoices/<int:invoice_id>/pay/", payment_views.invoice_pay, name="portal-invoice-pay"),
    path(
        "portal/billing-accounts/<int:account_id>/preferences/",
        views.preferences,
        name="portal-billing-preferences",
    ),
    path(
        "portal/billing-accounts/<int:account_id>/payment-methods/",
        payment_views.payment_methods,
        name="portal-payment-methods",
    ),
    path(
        "portal/billing-accounts/<int:account_id>/payment-methods/add/",
        payment_views.payment_method_new,
        name="portal-payment-method-add",
    ),
    path(
        "portal/billing-accounts/<int:account_id>/payment-methods/return/",
        payment_views.payment_method_return,
        name="portal-payment-method-return",
    ),
    path(
        "portal/billing-accounts/<int:account_id>/payment-methods/<int:method_id>/default/",
        payment_views.payment_method_make_default,
        name="portal-payment-method-default",
    ),
    path(
        "portal/billing-accounts/<int:account_id>/payment-methods/<int:method_id>/remove/",
        payment_views.payment_method_delete,
        name="portal-payment-method-remove",
    ),
    path("portal/payments/", payment_views.payments, name="portal-payments"),
    path("portal/payments/<int:payment_id>/confirm/", payment_views.payment_confirm, name="portal-payment-confirm"),
    path("portal/payments/<int:payment_id>/return/", payment_views.payment_return, name="portal-payment-return"),
    path("portal/payments/<int:payment_id>/receipt/", payment_views.payment_receipt, name="portal-payment-receipt"),
]
