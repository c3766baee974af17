// Figures page: draws the three charts from the JSON the server embedded (no inline script: CSP).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("figures-data").textContent);
  var css = getComputedStyle(document.documentElement);
  var primary = css.getPropertyValue("--primary").trim() || "#1f5fae";
  var font = { fontSize: 16, fontFamily: "Noto Sans CJK SC, sans-serif" };
  function chart(id, option) {
    var el = document.getElementById(id);
    var c = echarts.init(el, null, { renderer: "svg" });
    option.animation = false;
    option.textStyle = font;
    c.setOption(option);
    window.addEventListener("resize", function () { c.resize(); });
    el.setAttribute("data-rendered", "1");
  }
  chart("chart-services", {
    grid: { left: 60, right: 20, top: 20, bottom: 60 },
    xAxis: { type: "category", data: data.services, axisLabel: { interval: 0, rotate: data.services.length > 5 ? 20 : 0, fontSize: 15 } },
    yAxis: { type: "value", minInterval: 1 },
    tooltip: {},
    series: [{ type: "bar", data: data.counts, itemStyle: { color: primary }, label: { show: true, position: "top", fontSize: 16 } }]
  });
  chart("chart-ratings", {
    tooltip: { trigger: "item" },
    legend: { bottom: 0, textStyle: { fontSize: 15 } },
    color: [primary, "#5b9be0", "#9aa5b1", "#d08a1c", "#c0392b"],  // 非常满意 … 非常不满意
    series: [{ type: "pie", radius: ["35%", "65%"], center: ["50%", "42%"], data: data.ratings,
               label: { formatter: "{b}\n{c}", fontSize: 15 } }]
  });
  chart("chart-daily", {
    grid: { left: 60, right: 20, top: data.stations.length > 1 ? 40 : 20, bottom: 30 },
    xAxis: { type: "category", data: data.days },
    yAxis: { type: "value", minInterval: 1 },
    tooltip: { trigger: "axis" },
    legend: data.stations.length > 1 ? { top: 0, textStyle: { fontSize: 15 } } : undefined,
    series: data.stations.length > 1
      ? data.stations.map(function (s) { return { type: "line", name: s.name, data: s.data }; })
      : [{ type: "line", data: data.daily, itemStyle: { color: primary }, areaStyle: { opacity: 0.15 } }]
  });
})();
