"""JSON error answers shared by the APIs: {"errors": [{"path", "message"}]}."""

from django.http import JsonResponse


def error_response(status: int, message: str, path: str = "", **headers) -> JsonResponse:
    response = JsonResponse({"errors": [{"path": path, "message": message}]}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def unauthorized() -> JsonResponse:
    return error_response(
        401, "A valid Bearer token is required.", WWW_Authenticate='Bearer realm="sync-status"'
    )
