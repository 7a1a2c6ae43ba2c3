"""The ops page, mounted at /admin/ops/ (before the admin's own URLs, so the admin's "Operations"
app link opens it). ``admin_view``: staff only, others go to the admin login."""

from django.contrib import admin
from django.urls import path

from . import views

app_name = "ops"

urlpatterns = [
    path("", admin.site.admin_view(views.dashboard), name="dashboard"),
    path("lms/retry/", admin.site.admin_view(views.retry_lms), name="retry_lms"),
    path(
        "stripe-events/reprocess/",
        admin.site.admin_view(views.reprocess_events),
        name="reprocess_events",
    ),
]
