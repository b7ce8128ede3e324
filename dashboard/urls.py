from django.urls import path

from dashboard.steps import views
from dashboard.web import api, healthz

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", healthz.healthz, name="healthz"),
    path("integration/salesforce/sync-status/", views.sync_status, name="sync-status"),
    path(
        "integration/salesforce/sync-status/export.csv",
        views.sync_errors_export,
        name="sync-status-export",
    ),
    path("preferences/", views.preferences, name="preferences"),
    path("api/v1/openapi.json", api.openapi, name="openapi"),
    path("api/v1/sync-reports/", api.sync_report_create, name="sync-report-create"),
    path(
        "api/v1/sync-reports/<str:report_id>/",
        api.sync_report_detail,
        name="sync-report-detail",
    ),
    path("api/v1/sync-steps/", api.sync_step_list, name="sync-step-list"),
]
