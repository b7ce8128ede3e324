from django.contrib.auth.decorators import permission_required
from django.db.models import Count, Q
from django.shortcuts import render

from dashboard.choices import Status
from dashboard.models import ReceivedReport, SyncCycle
from dashboard.retention import retention_cutoff


@permission_required("dashboard.view_sync_status")
def home(request):
    """The latest cycles of the retention window, with how their steps went."""
    cycles = (
        SyncCycle.objects.filter(started_at__gte=retention_cutoff())
        .annotate(
            step_count=Count("steps"),
            problem_count=Count("steps", filter=~Q(steps__status=Status.SUCCEEDED)),
        )
        .order_by("-started_at", "-pk")[:50]
    )
    pending = ReceivedReport.objects.filter(status=ReceivedReport.State.ACCEPTED).count()
    failed = ReceivedReport.objects.filter(status=ReceivedReport.State.FAILED).count()
    return render(
        request,
        "dashboard/home.html",
        {"cycles": cycles, "pending_reports": pending, "failed_reports": failed},
    )
