from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard.web.login import LoginView

urlpatterns = [
    path("", include("dashboard.urls")),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

handler404 = "dashboard.web.errors.page_not_found"
handler500 = "dashboard.web.errors.server_error"
