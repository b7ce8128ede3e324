"""Path segments that name what the sync engine names: a cycle or a step by its id.

An engine's id is any text (docs/reports.md), but a path segment cannot hold
everything: "/" would split it (servers decode %2F before routing), and a
segment of dots alone ("." or "..") is a step up the path that browsers
resolve before sending the request. So those are written with "~" escapes,
"~" itself included:

    "~" -> "~7E"    "/" -> "~2F"    each "." of an id made only of dots -> "~2E"

Everything else is left to reverse(), which percent-encodes it. Each id has
exactly one URL: a segment that is not what to_url() writes (an unknown or
lower-case escape, a "~" alone, "~2E" outside an all-dot id) names nothing,
and answers 404.
"""

import re

ESCAPED = {"~": "~7E", "/": "~2F", ".": "~2E"}
UNESCAPED = {code: char for char, code in ESCAPED.items()}
ESCAPE_CODE = re.compile("~(?:7E|2F|2E)")


class EngineIdConverter:
    regex = "[^/]+"

    def to_url(self, value: str) -> str:
        text = value.replace("~", ESCAPED["~"]).replace("/", ESCAPED["/"])
        if not text.strip("."):
            text = text.replace(".", ESCAPED["."])
        return text

    def to_python(self, value: str) -> str:
        engine_id = ESCAPE_CODE.sub(lambda match: UNESCAPED[match[0]], value)
        if self.to_url(engine_id) != value:
            raise ValueError(f"{value!r} is not a segment this site writes")
        return engine_id
