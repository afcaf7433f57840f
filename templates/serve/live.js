/* tbreport serve: reload this page when the server has a newer build (server-sent events),
   and keep the reader where they were: the block at the top of the window stays there. */
(function () {
  "use strict";
  var me = document.currentScript;
  var build = me ? me.getAttribute("data-tbreport-build") : null;
  if (!window.EventSource || build === null) return;
  var KEY = "tbreport-serve-place";

  function main() {
    return document.querySelector("main") || document.body;
  }

  // the first child of el still in view: shown, in the flow (not a sticky toolbar)
  function firstInView(el) {
    var list = el.children;
    for (var i = 0; i < list.length; i++) {
      var box = list[i].getBoundingClientRect();
      if (box.bottom <= 0 || box.height === 0) continue;
      var position = getComputedStyle(list[i]).position;
      if (position === "fixed" || position === "sticky") continue;
      return i;
    }
    return -1;
  }

  // where the reader is: the innermost block at the top of the window (a path of child
  // indexes from <main>, and its id if it has one) and its offset from the window's top
  function place() {
    var el = main();
    var path = [];
    for (var depth = 0; depth < 6; depth++) {
      var i = firstInView(el);
      if (i < 0) break;
      el = el.children[i];
      path.push(i);
      if (el.getBoundingClientRect().top >= 0) break;
    }
    if (!path.length) return null;
    return { path: location.pathname, id: el.id || "", at: path, top: el.getBoundingClientRect().top };
  }

  function find(kept) {
    if (kept.id && document.getElementById(kept.id)) return document.getElementById(kept.id);
    var el = main();
    for (var k = 0; k < kept.at.length; k++) {
      el = el && el.children[kept.at[k]];
    }
    return el || null;
  }

  // the browser's own restoring would place the old offset on a page whose images above are
  // still loading (a preview draws them after the page): this script restores instead
  if ("scrollRestoration" in history) history.scrollRestoration = "manual";
  var kept = null;
  try {
    kept = JSON.parse(sessionStorage.getItem(KEY) || "null");
    sessionStorage.removeItem(KEY);
  } catch (err) {
    kept = null;
  }
  if (kept && kept.path === location.pathname) {
    var moved = false;
    var stop = function () { moved = true; };
    ["wheel", "touchstart", "keydown", "mousedown"].forEach(function (name) {
      window.addEventListener(name, stop, { passive: true, once: true });
    });
    var restore = function () {
      if (moved) return;
      var el = find(kept);
      if (el) window.scrollTo(0, window.scrollY + el.getBoundingClientRect().top - kept.top);
    };
    restore();
    // images (and charts) above the block arrive after the page: each moves it down
    document.addEventListener("load", restore, true);
    window.addEventListener("load", function () {
      restore();
      document.removeEventListener("load", restore, true);
    });
  }

  var events = new EventSource("/__tbreport/events");
  events.addEventListener("build", function (e) {
    if (e.data !== build) {
      events.close();
      try {
        var here = place();
        if (here) sessionStorage.setItem(KEY, JSON.stringify(here));
      } catch (err) { /* no storage: the page reloads at its top */ }
      location.reload();
    }
  });
})();
