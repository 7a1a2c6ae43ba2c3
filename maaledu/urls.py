from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import views as accounts_views
from ops import views as ops_views

from . import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="courses:catalog", permanent=False), name="home"),
    path("courses/", include("courses.urls")),
    path("", include("enrollments.urls")),
    path("affiliates/", include("affiliates.urls")),
    path("grants/", include("grants.urls")),
    # allauth's sign-up, answering a lost race for one address with the usual form error.
    path("accounts/signup/", accounts_views.signup, name="account_signup"),
    path("accounts/", include("allauth.urls")),
    # Before the admin's URLs: /admin/ops/ is the ops page, not the admin's app index.
    path("admin/ops/", include("ops.urls")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", ops_views.metrics, name="metrics"),
]

# The site's own error pages: none of them reads the request body (see maaledu.views).
handler400 = "maaledu.views.bad_request"
handler403 = "maaledu.views.permission_denied"
handler404 = "maaledu.views.page_not_found"
handler500 = "maaledu.views.server_error"
# allauth answers its own rate limits through this handler: the site's 429 page, Retry-After.
handler429 = "maaledu.views.too_many_requests"
