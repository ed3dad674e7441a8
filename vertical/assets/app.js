// Optional enhancements; every page works without this file.
// 1. Live totals while a draft quote's quantities and discounts are edited (the server
//    recalculates exactly on save). 2. Confirmation before irreversible actions.
(function () {
  "use strict";
  function num(v) { var n = parseFloat(String(v).replace(",", ".")); return isFinite(n) ? n : 0; }
  function money(n) { return (Math.round(n * 100) / 100).toFixed(2); }
  function recalc(form) {
    var subtotal = 0;
    form.querySelectorAll("tr[data-price]").forEach(function (row) {
      var q = row.querySelector("[data-qty]"), d = row.querySelector("[data-disc]"), r = row.querySelector("[data-remove]");
      var line = (r && r.checked) ? 0 : num(q.value) * num(row.dataset.price) * (1 - num(d.value) / 100);
      row.querySelector("[data-line]").textContent = money(line);
      subtotal += Math.round(line * 100) / 100;
    });
    var hd = form.querySelector("[data-header-disc]");
    var total = subtotal * (1 - num(hd ? hd.value : 0) / 100);
    var s = form.querySelector("[data-subtotal]"), t = form.querySelector("[data-total]");
    if (s) s.textContent = money(subtotal);
    if (t) t.textContent = money(total);
  }
  document.addEventListener("input", function (e) {
    var form = e.target.closest && e.target.closest("form[data-live-totals]");
    if (form) recalc(form);
  });
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
})();
