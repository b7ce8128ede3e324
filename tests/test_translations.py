"""Every word the pages show has its French, written by hand: the catalogue
holds no guess left fuzzy and no entry left empty, and what is compiled is
what is written."""

import ast
import gettext
import re
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parent.parent / "locale" / "fr" / "LC_MESSAGES"
FIELD = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d\])?) ((?:".*"\n?)+)', re.M)


def entries() -> list[tuple[str, dict]]:
    """(the entry's text, its fields) for every entry but the header."""
    text = (CATALOGUE / "django.po").read_text(encoding="utf-8")
    found = []
    for block in text.split("\n\n"):
        fields = {
            name: "".join(ast.literal_eval(line) for line in value.split("\n") if line)
            for name, value in FIELD.findall(block + "\n")
        }
        if fields.get("msgid"):
            found.append((block, fields))
    return found


def test_no_french_is_a_guess_or_missing():
    doubtful = [
        fields["msgid"]
        for block, fields in entries()
        if "#, fuzzy" in block
        or not all(value for name, value in fields.items() if name.startswith("msgstr"))
    ]
    assert doubtful == []


def test_the_compiled_catalogue_says_what_is_written():
    with open(CATALOGUE / "django.mo", "rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    stale = []
    for _, fields in entries():
        context = fields.get("msgctxt")
        if "msgid_plural" in fields:
            said = catalogue.ngettext(fields["msgid"], fields["msgid_plural"], 1)
            written = fields["msgstr[0]"]
        elif context:
            said, written = catalogue.pgettext(context, fields["msgid"]), fields["msgstr"]
        else:
            said, written = catalogue.gettext(fields["msgid"]), fields["msgstr"]
        if said != written:
            stale.append(fields["msgid"])
    assert stale == []
