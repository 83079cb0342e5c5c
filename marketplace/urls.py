from django.urls import path

from marketplace import portal_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("terms/", views.terms, name="terms"),
    path("addresses/suggest/", views.address_suggest, name="address-suggest"),
    path("address/<int:address_id>/", views.address_offers, name="address-offers"),
    path("address/<int:address_id>/interest/", views.address_interest, name="address-interest"),
    path("checkout/", views.checkout_start, name="checkout-start"),
    path("checkout/details/", views.checkout_details, name="checkout-details"),
    path("checkout/review/", views.checkout_review, name="checkout-review"),
    path("checkout/done/<int:order_id>/", views.checkout_done, name="checkout-done"),
    path("portal/", views.portal, name="portal"),
    path("portal/orders/<int:order_id>/cancel/", views.portal_order_cancel, name="portal-order-cancel"),
    path(
        "portal/subscriptions/<int:subscription_id>/end/",
        portal_views.subscription_terminate,
        name="portal-subscription-terminate",
    ),
    path(
        "portal/subscriptions/<int:subscription_id>/withdraw-notice/",
        portal_views.subscription_notice_withdraw,
        name="portal-subscription-withdraw",
    ),
    path(
        "portal/subscriptions/<int:subscription_id>/change/",
        portal_views.subscription_change,
        name="portal-subscription-change",
    ),
    path(
        "portal/subscriptions/<int:subscription_id>/change/withdraw/",
        portal_views.subscription_change_withdraw,
        name="portal-subscription-change-withdraw",
    ),
    path("portal/switches/<int:switch_id>/abort/", portal_views.switch_abort, name="portal-switch-abort"),
]
