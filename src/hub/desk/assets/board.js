// The board, live: the hub's server-sent events replace the rows as devices push.
// Plain JavaScript, no library; the rows arrive as HTML the hub rendered (escaped).
(function () {
  "use strict";
  var rows = document.getElementById("rows");
  var live = document.getElementById("live");
  var shown = document.getElementById("shown");
  if (!rows || !window.EventSource) {
    if (live) { live.textContent = "not live: this browser has no EventSource; reload to see changes"; }
    return;
  }
  function status(text, on) {
    live.textContent = text;
    live.className = "live " + (on ? "on" : "off");
  }
  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    return t.content;
  }
  function count() { shown.textContent = String(rows.rows.length); }
  var source = new EventSource("/desk/live" + window.location.search);
  source.addEventListener("open", function () { status("live", true); });
  source.addEventListener("error", function () {
    status("not live: reconnecting (sign in again if this lasts)", false);
  });
  source.addEventListener("board", function (e) {
    var d = JSON.parse(e.data);
    rows.replaceChildren(fragment(d.html));
    count();
    status("live", true);
  });
  source.addEventListener("row", function (e) {
    var d = JSON.parse(e.data);
    var old = null;
    for (var i = 0; i < rows.rows.length; i++) {
      if (rows.rows[i].dataset.order === d.order) { old = rows.rows[i]; break; }
    }
    if (d.html === null) {
      if (old) { old.remove(); }
    } else if (old) {
      old.replaceWith(fragment(d.html));
    } else {
      rows.appendChild(fragment(d.html));
    }
    count();
  });
}());
