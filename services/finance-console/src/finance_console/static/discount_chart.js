// Discount activity chart (Apache ECharts, vendored): per day drawn / confirmed / returned /
// reversed counts as bars and the budget spent and left (yuan) as lines on a second axis.
(function () {
  "use strict";
  var node = document.getElementById("discount-data");
  var el = document.getElementById("chart-discount");
  if (!node || !el || !window.echarts) { return; }
  var data = JSON.parse(node.textContent);
  function yuan(fen) { return fen / 100; } // display only: the axis shows yuan
  function bars(name, values) {
    return { name: name, type: "bar", yAxisIndex: 0, barMaxWidth: 36, emphasis: { focus: "series" },
      data: values };
  }
  function line(name, values) {
    return { name: name, type: "line", yAxisIndex: 1, data: values.map(yuan) };
  }
  var chart = window.echarts.init(el, null, { renderer: "svg" });
  chart.setOption({
    title: { text: "Discounts per day and the budget", left: 8, top: 6, textStyle: { fontSize: 13 } },
    tooltip: { trigger: "axis" },
    legend: { top: 28 },
    grid: { left: 56, right: 72, top: 64, bottom: 32 },
    xAxis: { type: "category", data: data.days },
    yAxis: [{ type: "value", name: "count", minInterval: 1 }, { type: "value", name: "¥" }],
    animation: false,
    series: [
      bars("drawn", data.drawn),
      bars("confirmed", data.confirmed),
      bars("returned", data.returned),
      bars("reversed", data.reversed),
      line("budget spent", data.spent_fen),
      line("budget left", data.left_fen)
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
  el.setAttribute("data-rendered", "true");
})();
