from django.urls import path

from dashboard.steps import api as steps_api
from dashboard.steps import views as steps
from dashboard.web import api, healthz, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", healthz.healthz, name="healthz"),
    path("preferences/", views.preferences, name="preferences"),
    path("integration/salesforce/sync-status/", steps.sync_status, name="sync-status"),
    path(
        "integration/salesforce/sync-status/export.csv",
        steps.sync_errors_export,
        name="sync-status-export",
    ),
    path("api/v1/openapi.json", api.openapi, name="openapi"),
    path("api/v1/sync-reports/", api.sync_report_create, name="sync-report-create"),
    path(
        "api/v1/sync-reports/<str:report_id>/",
        api.sync_report_detail,
        name="sync-report-detail",
    ),
    path("api/v1/sync-steps/", steps_api.sync_step_list, name="sync-step-list"),
]
