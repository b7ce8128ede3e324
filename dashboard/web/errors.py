"""What the site answers when a request fails on something other than its input."""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

from dashboard.web.http import error_response

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "30"


def page_not_found(request, exception):
    """handler404: the APIs answer in their JSON even for an address they do
    not know (an id their converter cannot read included); pages as Django does."""
    if request.path.startswith("/api/"):
        return error_response(404, "Nothing is found at this address.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    """handler500. An unreachable database is an outage that passes, not a bug:
    503 with Retry-After, a page that says so, JSON for the APIs (the engine
    resends on 503). Anything else is Django's plain 500."""
    if not isinstance(sys.exception(), OperationalError | InterfaceError):
        return defaults.server_error(request)
    if request.path.startswith("/api/"):
        return error_response(
            503, "The database cannot be reached; try again later.", Retry_After=RETRY_AFTER_SECONDS
        )
    # Rendered without the request: its context processors would ask the
    # database for the user.
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response
