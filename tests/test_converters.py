"""dashboard/web/converters.py: any id an engine may send names its cycle and step
in a URL, and that URL names nothing else."""

from urllib.parse import unquote

import pytest
from django.urls import Resolver404, resolve, reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import make_report, make_step

# What has broken ids in URLs somewhere: separators, the escape itself and
# things that look like escapes, dot segments, query and fragment marks,
# white space, bidirectional controls, characters of every width.
PIECES = ["/", "~", "%", "%2F", "~2F", "~7E", "~2E", ".", "..", "?", "#", " ", "\\", "\n", "\t",
          "+", "&", ";", "\u202e", "é", "東", "😀", "<script>", "=1+1"]  # fmt: skip
# Ids as the validator accepts them: up to 255 characters, not blank, no NUL,
# no lone surrogate (docs/reports.md).
engine_ids = (
    st.lists(
        st.one_of(
            st.sampled_from(PIECES),
            st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        ),
        min_size=1,
        max_size=40,
    )
    .map("".join)
    .filter(lambda text: text.strip() and len(text) <= 255)
)
LONGEST = "😀" * 255


@settings(max_examples=500, deadline=None)
@given(cycle_id=engine_ids, step_id=engine_ids)
@example(cycle_id=LONGEST, step_id=LONGEST)
@example(cycle_id=".", step_id="..")
@example(cycle_id="a/b", step_id="%2F")
def test_any_ids_reverse_to_a_url_that_resolves_to_exactly_them(cycle_id, step_id):
    for name, args in [
        ("cycle", [cycle_id]),
        ("step", [cycle_id, step_id]),
        ("step-export", [cycle_id, step_id]),
    ]:
        url = reverse(name, args=args)
        match = resolve(unquote(url))  # the path as the server hands it to Django, decoded
        assert (match.url_name, list(match.kwargs.values())) == (name, args)


@pytest.mark.parametrize(
    "cycle_id, step_id, url",
    [
        (
            "cyc-1",
            "lead.pull_updates",
            "/integration/salesforce/cycles/cyc-1/steps/lead.pull_updates/",
        ),
        ("a/b", "c~d", "/integration/salesforce/cycles/a~2Fb/steps/c~7Ed/"),
        (".", "..", "/integration/salesforce/cycles/~2E/steps/~2E~2E/"),
        ("...", "../x", "/integration/salesforce/cycles/~2E~2E~2E/steps/..~2Fx/"),
        ("%2F", "~2F", "/integration/salesforce/cycles/%252F/steps/~7E2F/"),
        ("a?b#c", "é 東", "/integration/salesforce/cycles/a%3Fb%23c/steps/%C3%A9%20%E6%9D%B1/"),
    ],
)
def test_a_url_escapes_only_what_a_path_segment_cannot_hold(cycle_id, step_id, url):
    assert reverse("step", args=[cycle_id, step_id]) == url


@pytest.mark.parametrize(
    "segment",
    ["~", "a~", "~zz", "~2f", "~7e", "~41", "a~2Eb", "~2E.", "~2Fx~"],
)
def test_a_segment_this_site_never_writes_names_no_cycle(segment):
    with pytest.raises(Resolver404):
        resolve(f"/integration/salesforce/cycles/{segment}/")


@pytest.mark.django_db
@pytest.mark.parametrize("segment", ["~", "~zz", "~2f", "a~2Eb", "%7E"])
def test_a_malformed_escape_is_a_404_not_a_500(admin_client, ingest, segment):
    ingest(make_report(make_step("a.b"), cycle_id="a.b"))
    assert admin_client.get(f"/integration/salesforce/cycles/{segment}/").status_code == 404
    url = f"/integration/salesforce/cycles/a.b/steps/{segment}/"
    assert admin_client.get(url).status_code == 404
    assert admin_client.get(url + "export.csv").status_code == 404


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cycle_id=engine_ids, step_id=engine_ids)
@example(cycle_id="..", step_id=".")
@example(cycle_id="a/../b", step_id="%2F~")
def test_the_step_of_any_ids_is_found_at_its_url(admin_client, ingest, cycle_id, step_id):
    ingest(make_report(make_step(step_id), cycle_id=cycle_id))
    response = admin_client.get(reverse("step", args=[cycle_id, step_id]))
    assert response.status_code == 200
    step = response.context["step"]
    assert (step.cycle.external_id, step.step_id) == (cycle_id, step_id)
    response = admin_client.get(reverse("cycle", args=[cycle_id]))
    assert response.status_code == 200
    assert response.context["cycle"].external_id == cycle_id
