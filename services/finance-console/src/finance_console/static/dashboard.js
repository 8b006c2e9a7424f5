// Recon dashboard charts (Apache ECharts, vendored under /static/vendor/echarts).
(function () {
  "use strict";
  var node = document.getElementById("chart-data");
  if (!node || !window.echarts) { return; }
  var data = JSON.parse(node.textContent);
  function yuan(fen) { return fen / 100; } // display only: the axis shows yuan
  function perSource(values, type, stack) {
    return data.labels.map(function (name, i) {
      return { name: name, type: type, stack: stack, emphasis: { focus: "series" },
        data: values[i].map(type === "bar" && stack === "count" ? Number : yuan) };
    });
  }
  function chart(id, title, series, unit) {
    var el = document.getElementById(id);
    var c = window.echarts.init(el, null, { renderer: "svg" });
    c.setOption({
      title: { text: title, left: 8, top: 6, textStyle: { fontSize: 13 } },
      tooltip: { trigger: "axis" },
      legend: { top: 28, type: "scroll" },
      grid: { left: 64, right: 16, top: 64, bottom: 32 },
      xAxis: { type: "category", data: data.days.map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value", name: unit },
      animation: false,
      series: series
    });
    window.addEventListener("resize", function () { c.resize(); });
    el.setAttribute("data-rendered", "true");
  }
  chart("chart-matched", "Matched amount per source", perSource(data.matched_fen, "bar", "matched"), "¥");
  chart("chart-disc-count", "Open discrepancies per source", perSource(data.discrepancy_count, "bar", "count"), "count");
  chart("chart-disc-amount", "Money at risk per source", perSource(data.discrepancy_fen, "bar", "risk"), "¥");
  chart("chart-settlement", "Settlement and fees (all sources)", [
    { name: "settled (net)", type: "line", data: data.settled_fen.map(yuan) },
    { name: "fees", type: "line", data: data.fee_fen.map(yuan) }
  ], "¥");
})();
