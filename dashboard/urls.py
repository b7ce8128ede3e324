from django.urls import path

from dashboard import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("api/v1/sync-reports/", api.sync_report_create, name="sync-report-create"),
    path(
        "api/v1/sync-reports/<str:report_id>/",
        api.sync_report_detail,
        name="sync-report-detail",
    ),
]
