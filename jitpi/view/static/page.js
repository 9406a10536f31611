// Hovering a table row highlights its series in the charts (ids: the SVG groups' gid).
document.querySelectorAll("tr[data-series]").forEach(function (row) {
  var ids = row.getAttribute("data-series").split(" ");
  row.addEventListener("mouseenter", function () {
    document.querySelectorAll("figure svg g[id]").forEach(function (g) {
      if (ids.some(function (id) { return g.id === id || g.id.indexOf(id + "-") === 0; })) {
        g.classList.add("hl");
        g.closest("svg").classList.add("dim");
      }
    });
  });
  row.addEventListener("mouseleave", function () {
    document.querySelectorAll(".hl, .dim").forEach(function (el) { el.classList.remove("hl", "dim"); });
  });
});
