// Designer preview: reload the page when the specs change. Loaded only
// when the server runs with --dev.
(function () {
  "use strict";
  function wait() {
    fetch("/_dev/wait", { cache: "no-store" }).then(function (r) {
      if (r.status === 200) {
        location.reload();
      } else {
        wait();
      }
    }).catch(function () {
      setTimeout(wait, 2000);
    });
  }
  wait();
})();
