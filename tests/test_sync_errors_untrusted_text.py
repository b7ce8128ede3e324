"""Text from the sync engine is data on every page of the Sync errors tab:
never markup, never a formula in the export, never a page too wide or a
line turned around by right-to-left text."""

import csv
import io
import re
from html import escape, unescape

import pytest

from dashboard.models import ErrorGroup
from dashboard.syncerrors.signatures import group_key
from tests.conftest import make_report, make_step

pytestmark = pytest.mark.django_db
TAB = "/integration/salesforce/sync-errors/"
MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "</td></tr><tr><td>forged",
]
FORMULA = '=HYPERLINK("http://evil")'
RIGHT_TO_LEFT = "\u202eRIGHT-TO-LEFT\u202c خطأ في القيمة"
LONG = "Very long message " * 400


@pytest.fixture
def hostile(ingest):
    """A step of each payload, every text of it hostile, with a record failure
    and a job-level error; and a very long message."""
    for payload in [*MARKUP, FORMULA, RIGHT_TO_LEFT]:
        ingest(
            make_report(
                make_step(payload, status="failed", object_type="custom_object",
                          object_name=payload, error={"code": payload, "message": payload},
                          failures=[{"record_id": payload, "marketo_id": payload,
                                     "error_code": payload, "field": payload,
                                     "message": payload}]),
                cycle_id=payload,
            )
        )  # fmt: skip
    failure = {"record_id": "00Q-long", "message": LONG}
    ingest(make_report(make_step(status="incomplete", failures=[failure]), cycle_id="long"))


def pages(client) -> list[str]:
    """Every page of the tab that shows engine text."""
    html = client.get(TAB).content.decode()
    keys = set(re.findall(rf'href="{TAB}(\w{{16}})/"', html))
    assert len(keys) == 2 * 6 + 1, "a record and a job group per payload, and the long one"
    group_pages = [client.get(f"{TAB}{key}/").content.decode() for key in sorted(keys)]
    records = set()
    for page in group_pages:
        records |= set(re.findall(r'href="(/integration/salesforce/records/[^"]+)"', page))
    assert len(records) == 6 + 1
    record_pages = [client.get(unescape(href)).content.decode() for href in records]
    searches = [client.get(TAB, {"q": text}).content.decode() for text in ["<b>", "'\"><i>"]]
    others = [
        client.get("/integration/salesforce/records/", {"marketo_id": payload}, follow=True)
        for payload in MARKUP
    ]
    missing = client.get(f"/integration/salesforce/records/<b>x</b>{RIGHT_TO_LEFT}/")
    missing = missing.content.decode()
    return [html, *group_pages, *record_pages, *searches, *[o.content.decode() for o in others],
            missing]  # fmt: skip


def test_markup_from_the_engine_is_shown_as_text_on_every_page(admin_client, hostile):
    for html in pages(admin_client):
        for payload in MARKUP:
            assert payload not in html
        assert "<script>alert" not in html and "<b>x</b>" not in html and "<i>" not in html
    group_page = admin_client.get(
        f"{TAB}{group_key(ErrorGroup.objects.get(error_code=MARKUP[0], level='job').id)}/"
    ).content.decode()
    assert escape(MARKUP[0]) in group_page


def test_right_to_left_text_is_isolated_from_the_text_around_it(admin_client, hostile):
    for html in pages(admin_client):
        isolates = r"<bdi>.*?</bdi>|&#x2068;.*?&#x2069;|\u2068.*?\u2069"
        outside = re.sub(isolates, "", html, flags=re.S)
        assert "\u202e" not in re.sub(r'="[^"]*"', "", outside), "only in attributes"


def test_a_very_long_message_is_shortened_in_the_list_and_whole_on_its_group(admin_client, hostile):
    html = admin_client.get(TAB).content.decode()
    shortened = LONG.strip()[:299] + "…"
    assert f"<bdi>{shortened}</bdi>" in html
    assert LONG.strip() not in html
    key = group_key(ErrorGroup.objects.get(template=LONG.strip()).id)
    assert LONG.strip() in admin_client.get(f"{TAB}{key}/").content.decode()


def test_the_export_keeps_the_text_exact_and_neutralises_formulas(admin_client, hostile):
    for payload in [*MARKUP, FORMULA]:
        key = group_key(ErrorGroup.objects.get(error_code=payload, level="record").id)
        response = admin_client.get(f"{TAB}{key}/export.csv")
        (row,) = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        expected = "'" + payload if payload.startswith("=") else payload
        for column in ["object_name", "cycle_id", "step_id", "record_id", "marketo_id",
                       "error_code", "field", "message"]:  # fmt: skip
            assert row[column] == expected, column
