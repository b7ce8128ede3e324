"""What makes two failures the same error: message templates and signatures."""

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dashboard.syncerrors.signatures import (
    JOB,
    RECORD,
    failure_signature,
    group_id_of,
    group_key,
    job_error_signature,
    message_template,
    replace_emails,
)


@pytest.mark.parametrize(
    "message, template",
    [
        ("Value 'ACME Corp' too long (max 80)", "Value <value> too long (max <n>)"),
        ("Value 'Initech' too long (max 255)", "Value <value> too long (max <n>)"),
        ("Postal code is required", "Postal code is required"),
        ('Field "Company" is required', "Field <value> is required"),
        (
            "Email: invalid email address: jo.doe+x@mail.example.com",
            "Email: invalid email address: <email>",
        ),
        ("Owner 0055e000001AbCdAAK is inactive", "Owner <id> is inactive"),
        ("Owner 0055e000001AbCd is inactive", "Owner <id> is inactive"),
        ("Record 00Q5e00000AbCdEAAZ, 00Q5e00000AbCdFAAZ locked", "Record <id>, <id> locked"),
        # Letters only, or the wrong length, is a word, not an id.
        ("ABCDEFGHIJKLMNOPQR is odd", "ABCDEFGHIJKLMNOPQR is odd"),
        ("0055e000001AbCdA is odd", "0055e000001AbCdA is odd"),
        ("retry in 2.5 s, 3 times", "retry in <n> s, <n> times"),
        ("version v2 and 3rd try", "version v2 and 3rd try"),
        ("x 12.5.6", "x <n>.<n>"),
        ('it\'s "fine"', "it's <value>"),
        ("  spread\t over\n lines  ", "spread over lines"),
        ("no\u00a0break\u2003em\u3000wide ", "no break em wide"),
        ("'a' 'b' \"c\" 1 x@y.io 00Q5e00000AbCdEAAZ", "<value> <value> <value> <n> <email> <id>"),
        ("", ""),
    ],
)
def test_it_replaces_the_variable_parts_of_a_message(message, template):
    assert message_template(message) == template


def test_messages_differing_in_words_do_not_share_a_template():
    assert message_template("Postal code is required") != message_template("Postal code is invalid")


@given(st.text())
@example("'unclosed \"mixed' quotes\"")
@example("a'b'c@d.ef 123456789012345 1.2.3")
@example("x" * 600 + " 42")
def test_the_template_of_a_template_is_itself(message):
    template = message_template(message)
    assert message_template(template) == template


values = st.sampled_from(
    ["'ACME'", '"Initech"', "x@example.com", "0055e000001AbCdAAK", "42", "3.14"]
)
placeholder = {"'ACME'": "<value>", '"Initech"': "<value>", "x@example.com": "<email>",
               "0055e000001AbCdAAK": "<id>", "42": "<n>", "3.14": "<n>"}  # fmt: skip
words = st.lists(st.sampled_from(["Value", "is", "too", "long", "for", "field"]), max_size=4)


@given(before=words, value=values, after=words)
def test_a_variable_part_in_any_position_is_replaced(before, value, after):
    message = " ".join([*before, value, *after])
    assert message_template(message) == " ".join([*before, placeholder[value], *after])


TOO_LONG = "Value 'A' too long (max 80)"


def test_failures_of_one_signature_share_a_group_and_others_do_not():
    first = failure_signature("lead", None, "pull_updates", "STRING_TOO_LONG", "Company", TOO_LONG)
    second = failure_signature(
        "lead", "", "pull_updates", "STRING_TOO_LONG", "Company", "Value 'B' too long (max 255)"
    )
    assert first == second and first.group_id == second.group_id
    assert first.level == RECORD
    others = [
        failure_signature("contact", None, "pull_updates", "STRING_TOO_LONG", "Company", TOO_LONG),
        failure_signature("lead", None, "push_updates", "STRING_TOO_LONG", "Company", TOO_LONG),
        failure_signature(
            "lead", "Invoice__c", "pull_updates", "STRING_TOO_LONG", "Company", TOO_LONG
        ),
        failure_signature("lead", None, "pull_updates", None, "Company", TOO_LONG),
        failure_signature("lead", None, "pull_updates", "STRING_TOO_LONG", None, TOO_LONG),
        job_error_signature("lead", None, "pull_updates", "STRING_TOO_LONG", TOO_LONG),
    ]
    assert len({first.group_id, *(other.group_id for other in others)}) == 7
    assert others[-1].level == JOB and others[-1].field == ""


@given(st.integers(0, 2**63 - 1))
def test_a_group_key_names_its_group_and_nothing_else_does(group_id):
    assert group_id_of(group_key(group_id)) == group_id
    assert len(group_key(group_id)) == 16


@pytest.mark.parametrize("key", ["", "123", "zzzzzzzzzzzzzzzz", "0" * 17, "-000000000000001"])
def test_a_key_that_cannot_name_a_group_names_none(key):
    assert group_id_of(key) is None


# The rule for e-mail addresses as written; the product finds its matches a
# faster way (this regex is quadratic on a long word), and must find the same.
EMAIL_RULE = re.compile(r"""[^\s@<>'"]+@[^\s@<>'"]+\.[A-Za-z]{2,}""")


@given(st.text(alphabet="ab.@ '\"<>\n1é", max_size=40))
@example("a@b.com.x@c.de a@b.cc@d.ee @x.yz x@ @@a.bb")
def test_addresses_are_replaced_where_the_rule_finds_them(text):
    assert replace_emails(text) == EMAIL_RULE.sub("<email>", text)
