from django.urls import path

from . import account_views, views

app_name = "enrollments"

urlpatterns = [
    path("courses/<slug:slug>/checkout/", views.checkout, name="checkout"),
    path("courses/<slug:slug>/checkout/canceled/", views.checkout_cancel, name="checkout_cancel"),
    path("checkout/success/", views.checkout_success, name="checkout_success"),
    path("enrollments/<pk:enrollment_id>/", views.enrollment_status, name="enrollment_status"),
    path(
        "enrollments/<pk:enrollment_id>/status/",
        views.enrollment_status_fragment,
        name="enrollment_status_fragment",
    ),
    path("my/courses/", views.my_courses, name="my_courses"),
    path("my/orders/", views.my_orders, name="my_orders"),
    path("my/orders/<pk:enrollment_id>/receipt/", views.order_receipt, name="order_receipt"),
    path("account/", account_views.account, name="account"),
    path("account/export/", account_views.export_data, name="account_export"),
    path("account/delete/", account_views.delete_account, name="account_delete"),
    path("account/deleted/", account_views.account_deleted, name="account_deleted"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
]
