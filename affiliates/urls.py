from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "affiliates"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="affiliates:dashboard"), name="index"),
    path("join/", views.join, name="join"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
