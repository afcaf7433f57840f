/* tbreport serve: reload this page when the server has a newer build (server-sent events). */
(function () {
  "use strict";
  var me = document.currentScript;
  var build = me ? me.getAttribute("data-tbreport-build") : null;
  if (!window.EventSource || build === null) return;
  var events = new EventSource("/__tbreport/events");
  events.addEventListener("build", function (e) {
    if (e.data !== build) {
      events.close();
      location.reload();
    }
  });
})();
