from django.urls import path

from . import views

app_name = "grants"

urlpatterns = [
    path("apply/", views.apply, name="apply"),
    path("apply/thanks/", views.thanks, name="thanks"),
]
