"""A cycle's steps on its time line: where each bar starts, how wide it is.

The time line runs from the cycle's start to its end, or to now while the
cycle runs; a step with no end yet is drawn up to there. A step dated
outside it (a clock off by minutes, or an engine's date off by years) is
drawn cut at its edge and flagged, so that one wrong date never squeezes
every other step into a sliver. Positions are percentages of the width, so
that the drawing fits a phone as well as a wide screen with no rescaling of
its text; the template (steps/cycle.html) draws it.
"""

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard.models import SyncCycle, SyncStep
from dashboard.times import duration_text

# Pixels: the axis labels above and below the bars, and one row a step.
AXIS_HEIGHT = 22
ROW_HEIGHT = 20
BAR_HEIGHT = 12
# The narrowest bar, in percent of the width: a step of no duration still shows.
MIN_WIDTH = 0.4
# The room a label needs beside its bar, in percent of the width; a bar too wide
# to leave it on either side holds its label.
LABEL_ROOM = 30.0
# Grid lines at round intervals, at most this many across the line.
MAX_TICKS = 5
ROUND_INTERVALS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
DAY = 86400
# The end of the line has a grid line and a label (the whole duration) of its
# own: no grid line just before it, and no tick label where it would run into it.
LAST_TICK_AT = 98.0
LAST_TICK_LABEL_AT = 80.0


@dataclass(frozen=True)
class Bar:
    step: SyncStep
    x: float  # where it starts, in percent of the width
    width: float  # in percent of the width
    y: int  # its top, in pixels
    covered: timedelta  # how much of the time line it covers
    cut: bool  # it is dated outside the time line, in part or whole: drawn cut at its edge
    label: str  # where its label goes: "after" its end, "before" its start, or "inside"

    @property
    def end(self) -> float:
        return self.x + self.width

    @property
    def text_y(self) -> int:
        return self.y + BAR_HEIGHT - 2


@dataclass(frozen=True)
class Tick:
    x: float
    label: str | None


@dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    ticks: list[Tick]
    longest: Bar | None  # the step that held the cycle up: it covers most of the line
    longest_share: int  # how much of the line it covers, in whole percent
    cut_bars: int  # how many steps are dated outside the line
    span_text: str
    grid_top: int = AXIS_HEIGHT
    grid_bottom: int = AXIS_HEIGHT
    top_label_y: int = AXIS_HEIGHT - 8

    @property
    def height(self) -> int:
        return self.grid_bottom + AXIS_HEIGHT

    @property
    def bottom_label_y(self) -> int:
        return self.height - 6


def cycle_timeline(cycle: SyncCycle, steps: Sequence[SyncStep], now: datetime) -> Timeline:
    """The bars of `steps` (in start order) on `cycle`'s time line."""
    start = cycle.started_at
    end = max(cycle.ended_at or now, start + timedelta(seconds=1))
    span = end - start

    def at(moment: datetime) -> float:
        """Where `moment` falls, in percent, held to the line."""
        return 100 * (min(max(moment, start), end) - start) / span

    bars = []
    for index, step in enumerate(steps):
        step_end = step.ended_at or end
        x = at(step.started_at)
        width = max(at(step_end) - x, MIN_WIDTH)
        x = min(x, 100 - width)
        covered = min(step_end, end) - max(step.started_at, start)
        bars.append(
            Bar(
                step=step,
                x=x,
                width=width,
                y=AXIS_HEIGHT + index * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) // 2,
                covered=max(covered, timedelta(0)),
                cut=step.started_at < start or max(step.started_at, step_end) > end,
                label=_label_place(x, width),
            )
        )
    longest = max(bars, key=lambda bar: bar.covered, default=None)
    if longest is not None and not longest.covered:
        longest = None  # every step is cut away to nothing: none held the cycle up
    return Timeline(
        bars=bars,
        ticks=list(_ticks(span)),
        longest=longest,
        longest_share=round(100 * (longest.covered / span)) if longest else 0,
        cut_bars=sum(bar.cut for bar in bars),
        span_text=duration_text(span),
        grid_bottom=AXIS_HEIGHT + len(bars) * ROW_HEIGHT,
    )


def _label_place(x: float, width: float) -> str:
    """Beside the bar, where there is more room; inside a bar too wide for either side."""
    before, after = x, 100 - x - width
    if max(before, after) < LABEL_ROOM <= width:
        return "inside"
    return "after" if after >= before else "before"


def _ticks(span: timedelta) -> Iterator[Tick]:
    seconds = span.total_seconds()
    interval = next(
        candidate for candidate in _round_intervals() if seconds <= candidate * MAX_TICKS
    )
    for n in itertools.count():
        x = 100 * n * interval / seconds
        if x >= LAST_TICK_AT:  # the line's end has a line and a label of its own
            return
        label = duration_text(timedelta(seconds=n * interval)) if x <= LAST_TICK_LABEL_AT else None
        yield Tick(x=x, label=label)


def _round_intervals() -> Iterator[int]:
    """Seconds to hours, then 1, 2, 5, 10, 20, 50... days, without end."""
    yield from ROUND_INTERVALS
    for magnitude in itertools.count():
        for factor in (1, 2, 5):
            yield factor * 10**magnitude * DAY
