from django.http import Http404
from django.urls import path, register_converter

from dashboard.steps import api as steps_api
from dashboard.steps import detail as step_detail
from dashboard.steps import views as steps
from dashboard.web import api, healthz, views
from dashboard.web.access import page_permission_required
from dashboard.web.converters import EngineIdConverter

register_converter(EngineIdConverter, "engine_id")

CYCLE = "integration/salesforce/cycles/<engine_id:cycle_id>/"
STEP = CYCLE + "steps/<engine_id:step_id>/"


@page_permission_required
def not_built_yet(request, **kwargs):
    raise Http404


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
    path(CYCLE, step_detail.cycle_page, name="cycle"),
    path(STEP, step_detail.step_page, name="step"),
    path(STEP + "export.csv", step_detail.step_errors_export, name="step-export"),
    # Placeholders for the record timeline and the error group pages, which
    # are built elsewhere: the step page links to them by name, so the names
    # must resolve until those pages replace these two lines.
    path("integration/salesforce/records/<path:record_id>/", not_built_yet, name="record-timeline"),
    path("integration/salesforce/sync-errors/<str:group_key>/", not_built_yet, name="error-group"),
    path("api/v1/openapi.json", api.openapi, name="openapi"),
    path("api/v1/sync-reports/", api.sync_report_create, name="sync-report-create"),
    path(
        "api/v1/sync-reports/<str:report_id>/",
        api.sync_report_detail,
        name="sync-report-detail",
    ),
    path("api/v1/sync-steps/", steps_api.sync_step_list, name="sync-step-list"),
]
