"""docs/dashboard.md: a cycle's page, its steps drawn on its time line."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from tests.conftest import age_cycle, iso, make_report, make_step, recent
from tests.test_step_page import facts, links, text
from tests.test_sync_status_page import table_cells

pytestmark = pytest.mark.django_db


def cycle_url(cycle_id="cyc-1") -> str:
    return reverse("cycle", args=[cycle_id])


def bars(response) -> list[dict]:
    """Each step's bar on the time line: where it starts and how wide it is (in
    percent of the width), its classes, the page it links to and its tooltip."""
    html = response.content.decode()
    start = html.index('<svg class="timeline-chart"')
    chart = html[start : html.index("</svg>", start)]
    found = []
    for link, title, rect, label in re.findall(
        r'<a href="([^"]*)" class="bar-link">\s*<title>(.*?)</title>\s*(<rect [^>]*>)'
        r"\s*<text [^>]*>(.*?)</text>",
        chart,
        re.S,
    ):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', rect))
        found.append(
            {
                "x": float(attrs["x"].rstrip("%")),
                "width": float(attrs["width"].rstrip("%")),
                "classes": attrs["class"].split()[1:],
                "url": unescape(link),
                "title": unescape(title),
                "label": text(label),
            }
        )
    return found


def cycle(*steps, started_at, ended_at=None, cycle_id="cyc-1") -> dict:
    fields = {"ended_at": iso(ended_at)} if ended_at else {}
    return make_report(*steps, cycle_id=cycle_id, started_at=started_at, **fields)


def test_it_shows_the_cycle_start_end_and_duration(admin_client, ingest, settings):
    settings.TIME_ZONE = "America/New_York"
    start = recent(60)
    ingest(
        cycle(
            make_step(started_at=start),
            started_at=start,
            ended_at=start + timedelta(minutes=4, seconds=12),
            cycle_id="cyc-2026/11/28",
        )
    )
    response = admin_client.get(cycle_url("cyc-2026/11/28"))
    assert response.status_code == 200

    def local(moment):
        return moment.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M:%S")

    assert facts(response) == {
        "Started At": local(start),
        "Ended At": local(start + timedelta(minutes=4, seconds=12)),
        "Duration": "4 min 12 s",
        "Steps": "1",
    }
    assert "Cycle cyc-2026/11/28" in text(response.content.decode())


def test_it_lists_its_steps_in_start_order_each_linking_to_its_page(admin_client, ingest):
    start = recent(60)
    ingest(
        cycle(
            make_step(
                "second",
                started_at=start + timedelta(seconds=30),
                status="failed",
                ended_at=iso(start + timedelta(seconds=95)),
                operation="push_updates",
            ),
            make_step(
                "first",
                started_at=start + timedelta(seconds=1),
                ended_at=iso(start + timedelta(seconds=29)),
                object_type="custom_object",
                object_name="Invoice__c",
            ),
            make_step("third", started_at=start + timedelta(seconds=96), status="in_process"),
            started_at=start,
        ),
        cycle(make_step("elsewhere"), started_at=start, cycle_id="cyc-2"),
    )
    response = admin_client.get(cycle_url())
    cells = table_cells(response)
    assert [row[0] for row in cells] == [
        "Custom Object Invoice__c · Pull Updates first",
        "Lead · Push Updates second",
        "Lead · Pull Updates third",
    ]
    assert [row[2:] for row in cells[:2]] == [["28 s", "Succeeded"], ["1 min 5 s", "Failed"]]
    assert cells[2][3] == "In Process" and cells[2][2].endswith("so far")
    html = response.content.decode()
    body = html[html.index("<tbody") :]
    expected = [reverse("step", args=["cyc-1", step]) for step in ["first", "second", "third"]]
    assert [href for href in links(body) if "/steps/" in href] == expected


def test_it_draws_each_step_where_it_started_for_as_long_as_it_ran(admin_client, ingest):
    start = recent(60)
    ingest(
        cycle(
            make_step("a", started_at=start, ended_at=iso(start + timedelta(seconds=25))),
            make_step(
                "b",
                started_at=start + timedelta(seconds=25),
                status="incomplete",
                ended_at=iso(start + timedelta(seconds=75)),
            ),
            make_step(
                "c",
                started_at=start + timedelta(seconds=75),
                status="cleaned_up",
                ended_at=iso(start + timedelta(seconds=100)),
                object_type="contact",
            ),
            started_at=start,
            ended_at=start + timedelta(seconds=100),
        )
    )
    drawn = bars(admin_client.get(cycle_url()))
    assert [(bar["x"], bar["width"], bar["classes"]) for bar in drawn] == [
        (0.0, 25.0, ["bar-succeeded"]),
        (25.0, 50.0, ["bar-incomplete", "longest"]),
        (75.0, 25.0, ["bar-cleaned_up"]),
    ]
    assert [bar["label"] for bar in drawn] == [
        "Lead · Pull Updates",
        "Lead · Pull Updates",
        "Contact · Pull Updates",
    ]
    assert drawn[1]["url"] == reverse("step", args=["cyc-1", "b"])
    assert drawn[1]["title"].startswith("Lead · Pull Updates: Incomplete, ")
    assert drawn[1]["title"].endswith(", 50 s")


def test_it_names_the_step_that_held_the_cycle_up(admin_client, ingest):
    start = recent(60)
    ingest(
        cycle(
            make_step("quick", started_at=start, ended_at=iso(start + timedelta(seconds=10))),
            make_step(
                "slow",
                started_at=start + timedelta(seconds=10),
                object_type="campaign",
                ended_at=iso(start + timedelta(seconds=190)),
                operation="sync_schema",
            ),
            started_at=start,
            ended_at=start + timedelta(seconds=200),
        )
    )
    html = admin_client.get(cycle_url()).content.decode()
    summary = html[html.index('<p id="timeline-summary">') :]
    summary = summary[: summary.index("</p>")]
    assert text(summary) == (
        "The longest step, Campaign · Sync Schema, ran 3 min: 90% of the time line."
    )
    assert links(summary) == [reverse("step", args=["cyc-1", "slow"])]


def test_it_draws_a_running_step_up_to_now_while_the_cycle_runs(admin_client, ingest):
    start = recent(10)
    ingest(
        cycle(
            make_step("running", started_at=start + timedelta(minutes=5), status="in_process"),
            started_at=start,
        )
    )
    response = admin_client.get(cycle_url())
    (bar,) = bars(response)
    assert 49 < bar["x"] < 51 and 49 < bar["x"] + bar["width"] <= 100
    assert bar["x"] + bar["width"] == pytest.approx(100)
    assert facts(response)["Ended At"] == "—"
    assert re.fullmatch(r"10 min( \d+ s)? so far", facts(response)["Duration"])


def test_it_draws_a_running_step_up_to_the_end_of_a_cycle_that_ended(admin_client, ingest):
    start = recent(60)
    ingest(
        cycle(
            make_step("running", started_at=start + timedelta(seconds=30), status="in_process"),
            started_at=start,
            ended_at=start + timedelta(seconds=40),
        )
    )
    (bar,) = bars(admin_client.get(cycle_url()))
    assert (bar["x"], bar["width"]) == (75.0, 25.0)


def test_a_step_dated_years_away_is_drawn_cut_at_the_edge_and_said_to_be(admin_client, ingest):
    start = recent(60)
    ingest(
        cycle(
            make_step(
                "before",
                started_at=datetime(2001, 1, 1, tzinfo=UTC),
                ended_at=iso(start + timedelta(seconds=10)),
            ),
            make_step(
                "normal",
                started_at=start + timedelta(seconds=10),
                ended_at=iso(start + timedelta(seconds=30)),
            ),
            make_step("after", started_at=datetime(9999, 12, 30, tzinfo=UTC)),
            make_step(
                "ancient",
                started_at=datetime(1, 1, 2, tzinfo=UTC),
                ended_at=iso(datetime(1, 1, 3, tzinfo=UTC)),
            ),
            started_at=start,
            ended_at=start + timedelta(seconds=40),
        )
    )
    response = admin_client.get(cycle_url())
    assert response.status_code == 200
    drawn = {bar["url"].split("/")[-2]: bar for bar in bars(response)}
    assert (drawn["normal"]["x"], drawn["normal"]["width"]) == (25.0, 50.0)
    assert (drawn["before"]["x"], drawn["before"]["width"]) == (0.0, 25.0)
    assert "cut" in drawn["before"]["classes"] and "cut" not in drawn["normal"]["classes"]
    assert drawn["after"]["x"] + drawn["after"]["width"] == pytest.approx(100)
    assert drawn["ancient"]["x"] == 0.0 and drawn["ancient"]["width"] < 1
    assert all("cut" in drawn[name]["classes"] for name in ["after", "ancient"])
    assert "(dated outside the cycle's time line)" in drawn["after"]["title"]
    html = text(response.content.decode())
    assert "3 steps are dated outside the cycle's time line" in html
    ancient_row = next(row for row in table_cells(response) if "ancient" in row[0])
    assert ancient_row[0].endswith("dated outside the cycle's time line")
    assert ancient_row[1] == "0001-01-02 00:00:00" and ancient_row[2] == "1 d"


def test_it_draws_hundreds_of_steps_in_as_many_queries_as_one(
    admin_client, ingest, django_assert_max_num_queries
):
    start = recent(60)
    steps = [
        make_step(
            f"s{n:03}",
            started_at=start + timedelta(seconds=n),
            ended_at=iso(start + timedelta(seconds=n + 1)),
        )
        for n in range(300)
    ]
    ingest(cycle(*steps, started_at=start, ended_at=start + timedelta(seconds=300)))
    admin_client.get(cycle_url())  # the first view of a session also reads the time zone
    # Session, user, two for permissions, the cycle, its steps.
    with django_assert_max_num_queries(6):
        response = admin_client.get(cycle_url())
    drawn = bars(response)
    assert len(drawn) == len(table_cells(response)) == 300
    assert [bar["x"] for bar in drawn[:3]] == [
        0.0,
        pytest.approx(1 / 3, abs=1e-3),
        pytest.approx(2 / 3, abs=1e-3),
    ]
    assert 'height="6044"' in response.content.decode()


def test_it_draws_the_first_steps_of_a_cycle_too_long_to_draw_and_says_so(
    admin_client, ingest, monkeypatch
):
    from dashboard.steps import detail

    monkeypatch.setattr(detail, "MAX_CYCLE_STEPS", 3)
    start = recent(60)
    steps = [make_step(f"s{n}", started_at=start + timedelta(seconds=n)) for n in range(5)]
    ingest(cycle(*steps, started_at=start))
    response = admin_client.get(cycle_url())
    assert [bar["url"].split("/")[-2] for bar in bars(response)] == ["s0", "s1", "s2"]
    assert len(table_cells(response)) == 3
    assert facts(response)["Steps"] == "3+"
    assert "This cycle has more than 3 steps: the first 3 by start are shown." in text(
        response.content.decode()
    )


def test_it_says_when_no_step_has_been_reported_yet(admin_client, ingest):
    ingest(cycle(started_at=recent(5)))
    response = admin_client.get(cycle_url())
    assert response.status_code == 200
    assert table_cells(response) == [["No step of this cycle has been reported yet."]]
    assert '<svg class="timeline-chart"' not in response.content.decode()


@pytest.mark.parametrize(
    "hostile", ['<img src=x onerror="alert(1)">', "=1+2", "ملف \u202e", "..", "a/b", "%2F"]
)
def test_a_hostile_cycle_id_is_shown_as_text_and_routes_to_its_cycle(admin_client, ingest, hostile):
    ingest(cycle(make_step(hostile, status="failed"), started_at=recent(5), cycle_id=hostile))
    response = admin_client.get(cycle_url(hostile))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<img" not in html
    assert f"Cycle {hostile}" in text(html)
    assert reverse("step", args=[hostile, hostile]) in links(html)


def test_an_unknown_or_expired_cycle_is_a_404(admin_client, ingest):
    ingest(cycle(started_at=recent(5)), cycle(started_at=recent(5), cycle_id="cyc-old"))
    age_cycle("cyc-old", timedelta(days=6))
    for cycle_id in ["nope", "cyc-old", "CYC-1", "cyc-1 "]:
        assert admin_client.get(cycle_url(cycle_id)).status_code == 404
    assert admin_client.get(cycle_url()).status_code == 200


def test_the_step_page_leads_to_its_cycle_page(admin_client, ingest):
    ingest(cycle(make_step(), started_at=recent(5), cycle_id="cyc/7"))
    html = admin_client.get(reverse("step", args=["cyc/7", "lead.pull_updates"])).content.decode()
    assert cycle_url("cyc/7") in links(html)
