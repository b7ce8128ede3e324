"""Paging without COUNT(*), where a page past the last one is simply empty."""

from django.core.paginator import EmptyPage, Page
from django_tables2.paginators import LazyPaginator

# The largest OFFSET the databases take (a signed 64-bit integer).
MAX_OFFSET = 2**63 - 1


def page_offset(number: int, per_page: int) -> int | None:
    """Where page `number` starts, or None when no table can reach it."""
    offset = (number - 1) * per_page
    return offset if offset + per_page <= MAX_OFFSET else None


class PastTheEndPaginator(LazyPaginator):
    """No COUNT(*) (LazyPaginator), and a page past the last one has no rows
    instead of quietly showing the last page, however far past it is."""

    def page(self, number):
        if page_offset(int(number), self.per_page) is not None:
            try:
                return super().page(number)
            except EmptyPage:
                pass
        self._num_pages = self._final_num_pages = number
        return Page([], number, self)
