// Test drive orchestrator dashboard: the offer page's chart (Chart.js) and live countdowns.
// Served from /assets (CSP script-src 'self'); reads its data from <script type="application/json">.
(function () {
  'use strict';
  function chart() {
    var data = document.getElementById('chart-data');
    var canvas = document.getElementById('starts-chart');
    if (!data || !canvas || typeof window.Chart !== 'function') return;
    var hours = JSON.parse(data.textContent || '[]');
    var labels = hours.map(function (h) { return h.hour.slice(11, 16); });
    var bar = function (label, key, colour) { return { type: 'bar', label: label, data: hours.map(function (h) { return h[key]; }), backgroundColor: colour, stack: 'starts', yAxisID: 'y' }; };
    new window.Chart(canvas, {
      data: {
        labels: labels,
        datasets: [
          bar('Hot', 'hot', '#116329'), bar('Cold', 'cold', '#0550ae'), bar('Other', 'other', '#6e7781'), bar('Refused', 'refused', '#a40e26'),
          { type: 'line', label: 'Mean time to ready (s)', data: hours.map(function (h) { return h.meanSecondsToReady; }), borderColor: '#7d4e00', backgroundColor: '#7d4e00', yAxisID: 'y2', spanGaps: true },
        ],
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: { y: { stacked: true, beginAtZero: true, title: { display: true, text: 'starts' } }, y2: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'seconds' } }, x: { stacked: true } },
      },
    });
  }
  function countdowns() {
    var now = Date.now();
    document.querySelectorAll('.countdown[data-expires]').forEach(function (el) {
      var left = Math.max(0, Math.round((Date.parse(el.getAttribute('data-expires')) - now) / 1000));
      el.textContent = Math.floor(left / 60) + ' min ' + (left % 60) + ' s';
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    chart();
    countdowns();
    setInterval(countdowns, 1000);
  });
})();
