// Lobby TV: live over Server-Sent Events (EventSource reconnects by itself; a closed stream is
// reopened with backoff), every new call flashed and spoken with the hall's espeak-ng WAV.
(function () {
  "use strict";
  var root = document.getElementById("lobby");
  var live = document.getElementById("live");
  var soundButton = document.getElementById("sound");
  var lastSeq = parseInt(root.getAttribute("data-seq"), 10) || 0;
  var queue = [], playing = false, retry = 1000;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fill(list, items) {
    while (list.firstChild) list.removeChild(list.firstChild);
    items.forEach(function (item) { list.appendChild(item); });
  }
  function render(d, fresh) {
    var calling = d.calling.map(function (c) {
      var li = el("li", fresh && fresh.number === c.number ? "fresh" : "");
      li.appendChild(el("span", "num", c.number));
      li.appendChild(el("span", "arrow", "→"));
      li.appendChild(el("span", "ctr", c.counter + " 号窗口"));
      return li;
    });
    if (!calling.length) calling = [el("li", "empty", "暂无叫号")];
    fill(document.getElementById("calling"), calling);
    fill(document.getElementById("waiting"), Object.keys(d.waiting).map(function (band) {
      var li = el("li");
      li.appendChild(el("span", "band-name", band + " " + (d.bands[band] || "")));
      li.appendChild(el("span", "count", String(d.waiting[band])));
      return li;
    }));
    fill(document.getElementById("recent"), d.recent.map(function (c) {
      var li = el("li");
      li.appendChild(el("span", "num", c.number));
      li.appendChild(el("span", "ctr", c.counter + " 号窗口"));
      return li;
    }));
  }
  function playNext() {
    if (playing || !queue.length) return;
    var a = queue.shift();
    var audio = new Audio("/api/voice?number=" + encodeURIComponent(a.number) + "&counter=" + a.counter);
    playing = true;
    audio.onended = audio.onerror = function () { playing = false; playNext(); };
    var p = audio.play();
    if (p && p.catch) p.catch(function () {  // autoplay refused: one touch enables it
      playing = false; queue.unshift(a); soundButton.hidden = false;
    });
  }
  soundButton.addEventListener("click", function () { soundButton.hidden = true; playNext(); });

  function connect() {
    var source = new EventSource("/api/lobby/events");
    source.addEventListener("lobby", function (e) {
      var d = JSON.parse(e.data), fresh = null;
      retry = 1000;
      live.className = "live";
      if (d.announce && d.announce.seq > lastSeq) {
        lastSeq = d.announce.seq;
        fresh = d.announce;
        queue.push(d.announce);
        playNext();
      } else if (d.announce && d.announce.seq < lastSeq) {
        lastSeq = d.announce.seq;  // the hall restarted: its count began again
      }
      render(d, fresh);
      document.body.setAttribute("data-version", String(d.version));
    });
    source.onerror = function () {
      live.className = "live off";
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 15000);
      }
    };
  }
  connect();
})();
