"""A destination is shown back with its secrets masked, whatever the service
calls them (docs/alerts.md, "Secrets"), and an unreadable one is refused."""

import pytest

from dashboard.alerts.destinations import DestinationInvalid, destination_parse, mask_secrets

URLS_AND_SECRETS = [
    ("mailtos://ops:s3cret-pass@smtp.example.com:587?to=team@example.com", ["s3cret-pass"]),
    (
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#alerts",
        ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"],
    ),
    ("jsons://bob:hunter22@hooks.example.com/in?-apikey=zz-key-zz", ["hunter22", "zz-key-zz"]),
    ("json://hooks.example.com/in?+X-Token=abcd-1234-efgh", ["abcd-1234-efgh"]),
    (
        "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321",
        ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"],
    ),
]


@pytest.mark.parametrize(("url", "secrets"), URLS_AND_SECRETS)
def test_a_destination_is_shown_without_its_secrets(url, secrets):
    masked = destination_parse(url).masked
    assert masked.split("://")[0] == url.split("://")[0]
    for secret in secrets:
        assert secret not in masked


def test_an_e_mail_destination_still_shows_its_server_and_user():
    masked = destination_parse("mailtos://ops:s3cret-pass@smtp.example.com").masked
    assert masked.startswith("mailtos://ops:****@smtp.example.com")


def test_an_error_quoting_the_url_is_masked_too():
    url = "json://bob:hunter22@hooks.example.com/in?-apikey=zz-key-zz"
    assert mask_secrets(f"could not POST to {url} (hunter22)", url) == (
        "could not POST to json://bob:****@hooks.example.com/in?-apikey=**** (****)"
    )


@pytest.mark.parametrize("url", ["nope://user:pa55word@host", "not a url", ""])
def test_a_url_apprise_cannot_read_is_refused_without_its_secret(url):
    with pytest.raises(DestinationInvalid, match="Apprise cannot read") as raised:
        destination_parse(url)
    assert "pa55word" not in str(raised.value)
