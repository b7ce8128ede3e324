"""Logging in, with throttling of repeated failures (the site's and the admin's forms)."""

import hashlib

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from dashboard.ingest.throttle import attempt_count, attempt_record, attempts_forget, current_window


class LoginThrottleMixin:
    """After too many failures for one username from one address, passwords are
    no longer checked until the lockout period ends, so that guessing one is
    slow. Behind a proxy every client shares its address: the lock is then per
    username, which an attacker can use to lock an admin out for a while, but
    never to get in."""

    throttled = False

    def clean(self):
        username = str(self.data.get("username", "")).strip().lower()
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        key = "login:" + hashlib.sha256(f"{username}|{address}".encode()).hexdigest()
        seconds = settings.SYNC_STATUS_LOGIN_LOCKOUT_SECONDS
        if attempt_count(key, seconds=seconds) >= settings.SYNC_STATUS_LOGIN_FAILURES_ALLOWED:
            self.throttled = True
            minutes = -(-current_window(key, seconds).seconds_left // 60)
            raise ValidationError(
                _("Too many failed attempts. Try again in %(minutes)d minutes."),
                code="throttled",
                params={"minutes": minutes},
            )
        try:
            cleaned_data = super().clean()
        except ValidationError:
            attempt_record(key, seconds=seconds)
            raise
        attempts_forget(key, seconds=seconds)
        return cleaned_data


class ThrottledAuthenticationForm(LoginThrottleMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(LoginThrottleMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response
