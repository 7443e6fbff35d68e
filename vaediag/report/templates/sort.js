// Sort a table.sortable by the column whose header is clicked (again: reverse). Numbers sort as numbers,
// empty cells last; rows of class "ref" (the real-data reference row) stay at the bottom.
(function () {
  function key(row, col) {
    var text = row.cells[col].textContent.trim();
    var number = Number(text.replace(/ %$/, ""));
    return text === "" ? null : (isFinite(number) ? number : text);
  }
  function compare(a, b) {
    if (a === null || b === null) return a === b ? 0 : (a === null ? 1 : -1);
    if (typeof a === typeof b) return typeof a === "number" ? a - b : a.localeCompare(b, undefined, {numeric: true});
    return typeof a === "number" ? -1 : 1;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, col) {
      function sort() {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var moving = rows.filter(function (r) { return !r.classList.contains("ref"); });
        moving.sort(function (a, b) {
          var ka = key(a, col), kb = key(b, col);
          if (ka === null || kb === null) return compare(ka, kb);
          return ascending ? compare(ka, kb) : compare(kb, ka);
        });
        moving.concat(rows.filter(function (r) { return r.classList.contains("ref"); }))
          .forEach(function (r) { body.appendChild(r); });
      }
      th.tabIndex = 0;
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });
})();
