"""Text from the sync engine is data, never markup or a formula (issue 6)."""

import csv
import io
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.steps.export import FORMULA_STARTS, neutralise
from tests.conftest import make_report, make_step

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "</td></tr><tr><td>forged",
]
nasty = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
        st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\n", '"', ",", "'"]),
    ),
    max_size=30,
)
cycles = itertools.count()


@pytest.mark.django_db
def test_untrusted_text_is_escaped_on_every_page(admin_client, ingest):
    for n, payload in enumerate(PAYLOADS):
        ingest(
            make_report(
                make_step(
                    payload,
                    status="failed",
                    object_type="custom_object",
                    object_name=payload,
                    error={"code": payload, "message": payload},
                    failures=[{"record_id": payload, "message": payload}],
                ),
                cycle_id=f"hostile-{n}",
            )
        )
    pages = [
        admin_client.get("/integration/salesforce/sync-status/").content.decode(),
        admin_client.get("/integration/salesforce/sync-status/?status=failed").content.decode(),
        admin_client.get(
            "/integration/salesforce/sync-status/?since=<script>alert(1)</script>"
        ).content.decode(),
    ]
    for html in pages:
        for payload in PAYLOADS:
            assert payload not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "<script>" not in pages[2]


@given(text=nasty)
def test_a_cell_comes_back_exactly_or_behind_one_quote(text):
    cell = neutralise(text)
    assert cell in {text, "'" + text}
    assert not cell.startswith(FORMULA_STARTS)


@pytest.mark.django_db(transaction=True)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=nasty.filter(lambda t: t.strip() != ""))
def test_the_served_export_never_starts_a_cell_with_a_formula(admin_client, text):
    import json

    from dashboard.ingest.reports import report_receive
    from dashboard.tasks import enqueue_report_apply

    cycle_id = f"formula-{next(cycles)}"
    report_receive(
        raw=json.dumps(
            make_report(
                make_step(failures=[{"record_id": "r1", "message": text, "field": text}]),
                cycle_id=cycle_id,
            )
        ),
        source="test",
        enqueue=enqueue_report_apply,
    )
    response = admin_client.get("/integration/salesforce/sync-status/export.csv")
    body = b"".join(
        c if isinstance(c, bytes) else c.encode() for c in response.streaming_content
    ).decode()
    rows = [row for row in csv.DictReader(io.StringIO(body)) if row["cycle_id"] == cycle_id]
    assert len(rows) == 1
    for column in ["message", "field"]:
        assert rows[0][column] in {text, "'" + text}
        assert not rows[0][column].startswith(FORMULA_STARTS)
