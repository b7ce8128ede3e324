"""The pages around the tabs: the home address and a user's preferences."""

import zoneinfo

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dashboard.models import UserPreference
from dashboard.web.access import page_permission_required
from dashboard.web.middleware import SESSION_KEY


def home(request):
    return redirect("sync-status")


class PreferencesForm(forms.Form):
    time_zone = forms.CharField(
        label=gettext_lazy("Time zone"),
        help_text=gettext_lazy("An IANA name such as Europe/Paris or America/New_York."),
    )

    def clean_time_zone(self):
        name = self.cleaned_data["time_zone"].strip()
        if name not in zoneinfo.available_timezones():
            raise forms.ValidationError(_("Unknown time zone %(name)s.") % {"name": name})
        return name


@page_permission_required
def preferences(request):
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            UserPreference.objects.update_or_create(
                user=request.user, defaults={"time_zone": form.cleaned_data["time_zone"]}
            )
            request.session[SESSION_KEY] = form.cleaned_data["time_zone"]
            messages.success(
                request,
                _("Times are now shown in %(zone)s.") % {"zone": form.cleaned_data["time_zone"]},
            )
            return redirect(reverse("preferences"))
        status = 400
    else:
        form = PreferencesForm(initial={"time_zone": timezone.get_current_timezone_name()})
        status = 200
    context = {"form": form, "time_zones": sorted(zoneinfo.available_timezones())}
    return render(request, "dashboard/preferences.html", context, status=status)
