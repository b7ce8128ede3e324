from django.urls import path, register_converter

from dashboard.health import api as health_api
from dashboard.steps import api as steps_api
from dashboard.steps import detail as step_detail
from dashboard.steps import live as steps_live
from dashboard.steps import views as steps
from dashboard.syncerrors import api as errors_api
from dashboard.syncerrors import views as errors
from dashboard.web import api, healthz, views
from dashboard.web.converters import EngineIdConverter

register_converter(EngineIdConverter, "engine_id")

CYCLE = "integration/salesforce/cycles/<engine_id:cycle_id>/"
STEP = CYCLE + "steps/<engine_id:step_id>/"


urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", healthz.healthz, name="healthz"),
    path("preferences/", views.preferences, name="preferences"),
    path("integration/salesforce/sync-status/", steps.sync_status, name="sync-status"),
    path(
        "integration/salesforce/sync-status/live/",
        steps_live.sync_status_live,
        name="sync-status-live",
    ),
    path(
        "integration/salesforce/sync-status/live/health/",
        steps_live.sync_status_live_health,
        name="sync-status-live-health",
    ),
    path(
        "integration/salesforce/sync-status/export.csv",
        steps.sync_errors_export,
        name="sync-status-export",
    ),
    path(CYCLE, step_detail.cycle_page, name="cycle"),
    path(STEP, step_detail.step_page, name="step"),
    path(STEP + "export.csv", step_detail.step_errors_export, name="step-export"),
    path("integration/salesforce/sync-errors/", errors.sync_errors, name="sync-errors"),
    path("integration/salesforce/sync-errors/<str:key>/", errors.error_group, name="error-group"),
    path(
        "integration/salesforce/sync-errors/<str:key>/export.csv",
        errors.error_group_export,
        name="error-group-export",
    ),
    path("integration/salesforce/records/", errors.records, name="records"),
    path(
        "integration/salesforce/records/<engine_id:record_id>/",
        errors.record_timeline,
        name="record-timeline",
    ),
    path("api/v1/openapi.json", api.openapi, name="openapi"),
    path("api/v1/sync-reports/", api.sync_report_create, name="sync-report-create"),
    path(
        "api/v1/sync-reports/<str:report_id>/",
        api.sync_report_detail,
        name="sync-report-detail",
    ),
    path("api/v1/sync-steps/", steps_api.sync_step_list, name="sync-step-list"),
    path("api/v1/health/", health_api.health, name="health"),
    path("api/v1/error-groups/", errors_api.error_group_list, name="error-group-list"),
    path(
        "api/v1/records/<engine_id:record_id>/failures/",
        errors_api.record_failure_list,
        name="record-failure-list",
    ),
]
