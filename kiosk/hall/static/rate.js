// Rating pad: waits (live, over the lobby's event stream) for a ticket finished at this counter,
// asks 好差评; reason tags open under the lower three levels. Without JS the form posts as is.
(function () {
  "use strict";
  document.documentElement.className += " js";
  var root = document.getElementById("rate");
  var counter = root.getAttribute("data-counter");
  var pad = document.getElementById("pad"), idle = document.getElementById("idle"), thanks = document.getElementById("thanks");
  var tags = document.getElementById("tags"), send = document.getElementById("send");
  var ticketField = document.getElementById("ticket_id"), label = document.getElementById("rate-ticket");
  var chosen = null, thanking = false;

  function show(pending) {
    if (thanking) return;
    var same = pending && pending.ticket_id === ticketField.value && !pad.hidden;
    if (same) return;
    chosen = null;
    tags.className = "tags";
    send.hidden = true;
    Array.prototype.forEach.call(pad.querySelectorAll(".score"), function (b) { b.classList.remove("chosen"); });
    Array.prototype.forEach.call(pad.querySelectorAll("input[name=tag]"), function (c) { c.checked = false; });
    if (pending) {
      ticketField.value = pending.ticket_id;
      label.textContent = pending.number + " · " + pending.service_name;
    }
    pad.hidden = !pending;
    idle.hidden = !!pending;
    thanks.hidden = true;
  }
  function refresh() {
    fetch("/api/counters/" + counter + "/rating", {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (d) { show(d.pending); })
      .catch(function () {});
  }
  function submit() {
    var picked = Array.prototype.filter.call(pad.querySelectorAll("input[name=tag]"), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
    fetch("/api/counters/" + counter + "/rating", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({ticket_id: ticketField.value, score: chosen, tags: chosen <= 3 ? picked : []})
    }).then(function (r) {
      pad.hidden = true; idle.hidden = true; thanks.hidden = false; thanking = true;
      if (!r.ok) { thanks.firstElementChild.textContent = "本次评价未能保存，请告诉工作人员"; }
      setTimeout(function () { thanking = false; thanks.hidden = true; refresh(); }, 5000);
    });
  }
  pad.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest(".score") : null;
    if (!b) return;
    e.preventDefault();
    chosen = parseInt(b.getAttribute("data-score"), 10);
    Array.prototype.forEach.call(pad.querySelectorAll(".score"), function (x) { x.classList.toggle("chosen", x === b); });
    if (chosen <= 3) { tags.className = "tags open"; send.hidden = false; } else { submit(); }
  });
  send.addEventListener("click", submit);

  var retry = 1000;
  function connect() {
    var source = new EventSource("/api/lobby/events");
    source.addEventListener("lobby", function () { retry = 1000; refresh(); });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, retry); retry = Math.min(retry * 2, 15000); }
    };
  }
  connect();
})();
