from django.urls import path

from . import views

app_name = "enrollments"

urlpatterns = [
    path("courses/<slug:slug>/checkout/", views.checkout, name="checkout"),
    path("courses/<slug:slug>/checkout/canceled/", views.checkout_cancel, name="checkout_cancel"),
    path("checkout/success/", views.checkout_success, name="checkout_success"),
    path("checkout/status/", views.checkout_status, name="checkout_status"),
    path("my/courses/", views.my_courses, name="my_courses"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
]
