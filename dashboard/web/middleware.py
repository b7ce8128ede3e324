import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpResponse
from django.http.request import split_domain_port
from django.utils import timezone

from dashboard.models import UserPreference

SESSION_KEY = "time_zone"


def user_time_zone(get_response):
    """Show and read every time in the user's own time zone (docs/dashboard.md).

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


LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
PLAIN_HTTP_EXPLAINED = (
    "Sync Status answers over HTTPS only, because DEBUG is off: for a local run over "
    "plain HTTP, start it with DEBUG=1 (as make run does), or set SECURE_SSL_REDIRECT=0 "
    "and SECURE_COOKIES=0.\n"
)


def plain_http_explained(get_response):
    """A plain-HTTP request to this machine itself while production's HTTPS
    redirect is on (`manage.py runserver` on a fresh clone): the redirect
    would lead to an https:// address nothing answers on, so say in one
    sentence what to set instead. Any other host is redirected as usual."""
    exempt = [re.compile(pattern) for pattern in settings.SECURE_REDIRECT_EXEMPT]

    def middleware(request):
        host, _ = split_domain_port(request.META.get("HTTP_HOST", ""))
        if (
            settings.SECURE_SSL_REDIRECT
            and host in LOOPBACK_HOSTS
            and not request.is_secure()
            and not any(pattern.search(request.path.lstrip("/")) for pattern in exempt)
        ):
            return HttpResponse(PLAIN_HTTP_EXPLAINED, status=403, content_type="text/plain")
        return get_response(request)

    return middleware
