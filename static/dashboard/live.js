// The Sync Status page keeps itself current (dashboard/steps/live.py): htmx
// polls and swaps rows in by id. This keeps the reader's place when rows come
// in above the ones they are reading. Browsers' own scroll anchoring does
// not reach into the table, which scrolls sideways in a container of its own.
// A reader at the top of the table sees the new rows come in instead.
(function () {
  "use strict";
  let anchor = null;

  function isPoll(event) {
    return event.detail.elt && event.detail.elt.id === "live";
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    anchor = null;
    if (!isPoll(event)) return;
    const rows = Array.from(document.querySelectorAll("#live-rows > tr"));
    if (!rows.length || rows[0].getBoundingClientRect().top >= 0) return;
    const row = rows.find(function (tr) { return tr.getBoundingClientRect().bottom > 0; });
    if (row && row.id) anchor = { id: row.id, top: row.getBoundingClientRect().top };
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!isPoll(event) || !anchor) return;
    const row = document.getElementById(anchor.id);
    if (row) window.scrollBy(0, row.getBoundingClientRect().top - anchor.top);
    anchor = null;
  });
})();
