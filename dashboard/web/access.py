"""Who may see what (docs/dashboard.md)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django_htmx.http import HttpResponseClientRefresh

from dashboard.ingest.tokens import has_bearer, token_authenticate
from dashboard.models import IngestToken
from dashboard.web.http import error_response, unauthorized

PERMISSION = "dashboard.view_sync_status"


def page_permission_required(view):
    """Anonymous: to the login page. Logged in without the permission: 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            if request.htmx:
                # A page's poll after its session ended: the page is loaded
                # again, and goes to the login form, rather than have htmx
                # follow the redirect and swap the form in nowhere.
                return HttpResponseClientRefresh()
            return redirect_to_login(request.get_full_path())
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def read_api_access_required(view):
    """A read token, or a session with the permission. A request with a Bearer
    header is judged by its token alone, whatever session it also carries."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        authorization = request.headers.get("Authorization")
        if has_bearer(authorization):
            if token_authenticate(authorization, IngestToken.Scope.READ) is None:
                return unauthorized()
        elif not request.user.is_authenticated:
            return unauthorized()
        elif not request.user.has_perm(PERMISSION):
            return error_response(403, "You do not have permission to view sync status.")
        return view(request, *args, **kwargs)

    return wrapped
