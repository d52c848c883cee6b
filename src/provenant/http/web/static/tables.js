// Sortable, paginated tables in the drawer (a market_data artifact's OHLCV bars).
//
// The rows come from the server (autoescaped Jinja); this script only reorders and hides
// them, so without it every row is shown in stored order. Each cell carries its sort key in
// data-key (a number, or text such as an ISO date; empty when the value is absent).
(function () {
  "use strict";

  function rows(table) {
    return Array.from(table.tBodies[0].rows);
  }

  function pagerOf(table) {
    const scope = table.closest(".drawer") || document;
    return scope.querySelector('[data-pager-for="' + CSS.escape(table.id) + '"]');
  }

  function showPage(table, wanted) {
    const size = Number(table.dataset.pageSize) || 25;
    const all = rows(table);
    const pages = Math.max(1, Math.ceil(all.length / size));
    const page = Math.min(Math.max(wanted, 1), pages);
    table.dataset.page = String(page);
    all.forEach((row, i) => { row.hidden = Math.floor(i / size) + 1 !== page; });
    const nav = pagerOf(table);
    if (nav === null) {
      return;
    }
    nav.hidden = pages < 2;
    const first = all.length ? (page - 1) * size + 1 : 0;
    const last = Math.min(page * size, all.length);
    nav.querySelector('[role="status"]').textContent =
      "Rows " + first + "–" + last + " of " + all.length + " (page " + page + " of " + pages + ")";
    const previous = nav.querySelector('[data-page="previous"]');
    const next = nav.querySelector('[data-page="next"]');
    const focused = document.activeElement;
    previous.disabled = page === 1;
    next.disabled = page === pages;
    // A button that just became disabled drops the focus: hand it to the other one.
    if (focused === previous && previous.disabled && !next.disabled) {
      next.focus();
    } else if (focused === next && next.disabled && !previous.disabled) {
      previous.focus();
    }
  }

  function compareKeys(a, b, direction) {
    if (a === "" || b === "") {
      return (a === "") - (b === "");  // absent values last, whichever the direction
    }
    const x = Number(a);
    const y = Number(b);
    const order = (Number.isNaN(x) || Number.isNaN(y)) ? (a < b ? -1 : a > b ? 1 : 0) : x - y;
    return order * direction;
  }

  function sortBy(header) {
    const table = header.closest("table");
    const column = header.cellIndex;
    const direction = header.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    const sorted = rows(table)
      .map((row, index) => ({ row, index, key: row.cells[column].dataset.key || "" }))
      .sort((p, q) => compareKeys(p.key, q.key, direction) || p.index - q.index);
    table.tBodies[0].append(...sorted.map((item) => item.row));
    table.tHead.querySelectorAll("th").forEach((th) => {
      th.setAttribute("aria-sort", th === header ? (direction === 1 ? "ascending" : "descending")
                                                 : "none");
    });
    showPage(table, 1);
  }

  function init(root) {
    root.querySelectorAll("table[data-sortable]").forEach((table) => {
      if (!table.dataset.page) {
        showPage(table, 1);
      }
    });
  }

  document.addEventListener("click", (event) => {
    const sortButton = event.target.closest("table[data-sortable] button[data-sort]");
    if (sortButton) {
      sortBy(sortButton.closest("th"));
      return;
    }
    const pageButton = event.target.closest("[data-pager-for] button[data-page]");
    if (pageButton) {
      const nav = pageButton.closest("[data-pager-for]");
      const table = (nav.closest(".drawer") || document).querySelector(
        "#" + CSS.escape(nav.dataset.pagerFor));
      const step = pageButton.dataset.page === "next" ? 1 : -1;
      showPage(table, Number(table.dataset.page) + step);
    }
  });

  document.addEventListener("drawer:shown", (event) => init(event.target));
  init(document);
})();
