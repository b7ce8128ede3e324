"""The health strip above the Sync Status table: what an admin reads there,
in their time zone and language, and the stuck flag in the table."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.utils import timezone, translation

from dashboard.health.strip import health_strip
from dashboard.models import UserPreference
from tests.conftest import iso, make_report, make_step, recent

URL = "/integration/salesforce/sync-status/"
pytestmark = pytest.mark.django_db


def text(html: str) -> str:
    """The words a reader sees, tags dropped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&nbsp;", " ").split())


def strip_of(html: str) -> str:
    return html[html.index('<section class="health') : html.index("</section>")]


def every_20_minutes(ingest, count: int, last_minutes_ago: float = 5) -> None:
    # One clock reading: a second ticking between two would make a gap 20 min 1 s.
    last = recent(last_minutes_ago)
    for n in range(count):
        started = last - timedelta(minutes=20 * n)
        ingest(
            make_report(
                make_step(started_at=started, ended_at=iso(started + timedelta(minutes=2))),
                cycle_id=f"cyc-{n}",
                started_at=started,
                ended_at=iso(started + timedelta(minutes=2)),
            )
        )


def test_it_shows_the_last_cycle_in_the_users_zone_and_how_long_ago(admin_client, ingest):
    every_20_minutes(ingest, 3, last_minutes_ago=50)
    UserPreference.objects.create(user=User.objects.get(username="ada"), time_zone="Asia/Kolkata")

    strip = text(strip_of(admin_client.get(URL).content.decode()))

    local = recent(50).astimezone(ZoneInfo("Asia/Kolkata"))
    assert f"Last cycle started {local:%Y-%m-%d %H:%M} 50 minutes ago" in strip
    assert f"Last cycle ended {local + timedelta(minutes=2):%Y-%m-%d %H:%M}" in strip
    assert "Usual interval every 20 min" in strip
    assert "stopped" not in strip


def test_a_cycle_of_the_last_minute_started_just_now(admin_client, ingest):
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=20)
    ingest(make_report(make_step(started_at=started), started_at=started))

    strip = text(strip_of(admin_client.get(URL).content.decode()))

    assert "Last cycle started" in strip and "just now" in strip
    assert "0 minutes" not in strip


def test_it_says_in_words_since_when_nothing_has_run(ingest, settings):
    every_20_minutes(ingest, 3)
    later = timezone.now() + timedelta(hours=3)

    strip = text(render_to_string("health/strip.html", health_strip(later)))

    # Three usual intervals are an hour: three hours later, it is stale.
    last_end = timezone.localtime(recent(5) + timedelta(minutes=2))
    assert "The sync seems to have stopped." in strip
    assert f"Nothing has run since {last_end:%Y-%m-%d %H:%M}, 3 hours ago." in strip
    assert "The sync counts as stale after 1 h without a new cycle." in strip


def test_a_sync_that_never_ran_is_said_so(db):
    strip = text(render_to_string("health/strip.html", health_strip()))

    assert "The sync seems to have stopped. No sync cycle has been reported yet." in strip
    assert "Usual interval not known yet" in strip


def test_it_counts_the_stuck_steps_and_links_to_them(admin_client, ingest):
    started = recent(95)
    ingest(
        make_report(
            make_step("a", started_at=started, status="in_process"),
            make_step("b", started_at=started, status="in_process", object_type="contact"),
            make_step("c", started_at=recent(10), status="in_process", object_type="task"),
            started_at=started,
        )
    )

    html = admin_client.get(URL).content.decode()

    assert "Stuck steps 2 steps running for more than 60 min" in text(strip_of(html))
    link = re.search(r'class="stuck-link" href="([^"]+)"', html)[1].replace("&amp;", "&")
    listed = admin_client.get(link).content.decode()
    assert listed.count('class="badge badge-stuck"') == 2
    # The table flags them too; the step that started 10 minutes ago is only running.
    assert html.count('class="badge badge-stuck"') == 2
    assert html.count("badge-in_process") == 3


def test_it_sets_the_last_24_hours_against_the_24_before(admin_client, ingest):
    failures = [{"record_id": f"r{n}", "message": "Bad"} for n in range(4)]
    ingest(
        make_report(make_step(status="incomplete", failures=failures), cycle_id="today"),
        make_report(
            make_step("a", started_at=recent(60 * 30)),
            make_step("b", started_at=recent(60 * 30), status="failed"),
            cycle_id="yesterday",
            started_at=recent(60 * 30),
        ),
    )

    strip = text(strip_of(admin_client.get(URL).content.decode()))

    assert "Last 24 h 24 h before Change" in strip
    assert "Cycles 1 1 ±0" in strip
    assert "Steps 1 2 −1" in strip
    assert "Failed steps 1 1 ±0" in strip
    assert "Failed records 4 0 +4" in strip


def test_its_chart_says_in_words_what_it_draws(admin_client, ingest):
    failures = [{"record_id": f"r{n}", "message": "Bad"} for n in range(3)]
    ingest(make_report(make_step(status="incomplete", failures=failures), make_step("b")))

    html = strip_of(admin_client.get(URL).content.decode())

    assert 'aria-labelledby="health-chart-title health-chart-summary"' in html
    assert (
        "2 steps in 5 days, 1 of them failed, incomplete or cleaned up; 3 failed records; "
        "at most 2 steps in 4 hours." in text(html)
    )
    assert html.count('<rect class="s-succeeded"') == 1
    assert html.count('<rect class="s-incomplete"') == 1
    assert html.count('<rect class="records"') == 1


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_its_buckets_are_labelled_in_the_users_zone(ingest, zone):
    every_20_minutes(ingest, 1)

    with timezone.override(ZoneInfo(zone)):
        context = health_strip()
    columns = context["health"]["chart"]["columns"]

    # Kolkata is 5:30 ahead of UTC: its 4-hour buckets start at 01:30, 05:30...
    expected = {"UTC": ":00", "Asia/Kolkata": ":30"}[zone]
    assert all(column["start"].endswith(expected) for column in columns)


def test_it_speaks_french(admin_client, ingest):
    every_20_minutes(ingest, 2)

    strip = text(strip_of(admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="fr").content.decode()))

    for words in [
        "Dernier cycle démarré",
        "il y a 5",
        "Intervalle habituel toutes les 20 min",
        "Étapes bloquées Aucune",
        "Dernières 24 h",
        "Enregistrements en échec",
    ]:
        assert words in strip
    later = timezone.now() + timedelta(hours=3)
    with translation.override("fr"):
        stale = text(render_to_string("health/strip.html", health_strip(later)))
    assert "La synchronisation semble arrêtée." in stale
    assert "Rien n’a tourné depuis" in stale


def test_one_drawing_serves_every_reader_until_a_report_is_applied(
    admin_client, ingest, django_assert_max_num_queries
):
    every_20_minutes(ingest, 1)
    first = strip_of(admin_client.get(URL).content.decode())
    # Session, user, two for permissions, the reader's zone, the live mark
    # (read once for the strip's key and the page's own), the rows: none of
    # the strip's six figures (a page that draws it makes 12).
    with django_assert_max_num_queries(6):
        again = strip_of(admin_client.get(URL).content.decode())
    assert again == first

    ingest(make_report(make_step(started_at=recent(2)), cycle_id="cyc-new", started_at=recent(2)))

    assert "Last cycle started" in (fresh := text(strip_of(admin_client.get(URL).content.decode())))
    assert "just now" not in text(first) and "2 minutes ago" in fresh
