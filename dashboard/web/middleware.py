from zoneinfo import ZoneInfo

from django.utils import timezone

from dashboard.models import UserPreference

SESSION_KEY = "time_zone"


def user_time_zone(get_response):
    """Show and read every time in the user's own time zone (SPEC 4.5).

    The zone is kept in the session, so that it costs a query once per login
    rather than once per request.
    """

    def middleware(request):
        name = None
        if request.user.is_authenticated:
            name = request.session.get(SESSION_KEY)
            if name is None:
                name = (
                    UserPreference.objects.filter(user=request.user)
                    .values_list("time_zone", flat=True)
                    .first()
                ) or ""
                request.session[SESSION_KEY] = name
        if name:
            timezone.activate(ZoneInfo(name))
        else:
            timezone.deactivate()
        return get_response(request)

    return middleware
