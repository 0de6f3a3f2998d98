/* cddgan-bench report: sortable tables and the before/after slider. No dependencies, works from file://. */
(function () {
  "use strict";

  // Sort value of a cell: its data-sort number for numeric columns (cells without one go last in either
  // direction, e.g. FAILED or missing values), else its text.
  function cellKey(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) return null;
    if (numeric) {
      var raw = cell.getAttribute("data-sort");
      if (raw === null || raw === "") return null;
      var value = parseFloat(raw);
      return isNaN(value) ? null : value;
    }
    return cell.textContent.trim().toLowerCase();
  }

  function sortTable(table, th) {
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var index = headers.indexOf(th);
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    // Numbers start with the largest (best for most metrics), text with A.
    var direction = current === "none" ? (numeric ? "descending" : "ascending")
      : (current === "ascending" ? "descending" : "ascending");
    headers.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", direction);
    var sign = direction === "ascending" ? 1 : -1;
    // Each tbody is a row group (this harness, published, ...): rows are sorted within their group.
    Array.prototype.forEach.call(table.tBodies, function (body) {
      var rows = Array.prototype.filter.call(body.rows, function (r) { return !r.classList.contains("group-head"); });
      var keyed = rows.map(function (row, position) {
        return { row: row, key: cellKey(row, index, numeric), position: position };
      });
      keyed.sort(function (a, b) {
        if (a.key === null && b.key === null) return a.position - b.position;
        if (a.key === null) return 1;
        if (b.key === null) return -1;
        if (a.key < b.key) return -sign;
        if (a.key > b.key) return sign;
        return a.position - b.position;
      });
      keyed.forEach(function (item) { body.appendChild(item.row); });
    });
  }

  function initSortable(table) {
    if (!table.tHead) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      var button = th.querySelector("button") || th;
      button.addEventListener("click", function () { sortTable(table, th); });
    });
  }

  function initSlider(slider) {
    var range = slider.querySelector(".ba-range");
    var before = slider.querySelector(".ba-before");
    var handle = slider.querySelector(".ba-handle");
    if (!range || !before || !handle) return;
    function update() {
      var value = Math.max(0, Math.min(100, parseFloat(range.value)));
      before.style.clipPath = "inset(0 " + (100 - value) + "% 0 0)";
      handle.style.left = value + "%";
      slider.setAttribute("data-position", String(value));
    }
    range.addEventListener("input", update);
    range.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), initSortable);
    Array.prototype.forEach.call(document.querySelectorAll(".ba-slider"), initSlider);
  });
})();
