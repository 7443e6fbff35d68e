// The latent explorer: plotly.js (unpacked from this page) draws the codes, one trace per class; this script wires
// the checkpoint slider, the class toggles, the digit / reconstruction panel on hover and the decoded image on a
// click. window.vaediagExplorer.ready resolves once the plot is drawn (the browser test waits for it).
(function () {
  "use strict";
  var root = document.getElementById("latent-explorer");
  if (!root) return;
  var data = JSON.parse(document.getElementById("ex-data").textContent);
  var plot = document.getElementById("ex-plot"), status = document.getElementById("ex-status");
  var slider = document.getElementById("ex-epoch"), epochLabel = document.getElementById("ex-epoch-label");
  var hoverLabel = document.getElementById("ex-hover-label"), clickLabel = document.getElementById("ex-click-label");
  var MARGIN = {l: 52, r: 12, t: 12, b: 46};
  var state = {frame: data.frames.length - 1, shown: data.classes.map(function () { return true; }), click: null};
  var sprites = {};
  var resolveReady, rejectReady;
  var api = window.vaediagExplorer = {
    ready: new Promise(function (resolve, reject) { resolveReady = resolve; rejectReady = reject; }),
    state: state, data: data, started: false
  };

  function image(uri) {  // a sprite sheet, decoded once
    if (!sprites[uri]) {
      sprites[uri] = new Promise(function (resolve, reject) {
        var img = new Image();
        img.onload = function () { resolve(img); };
        img.onerror = function () { reject(new Error("sprite failed to load")); };
        img.src = uri;
      });
    }
    return sprites[uri];
  }

  function drawTile(canvasId, uri, k, epoch) {  // tile k of a sprite, 28 x 28 pixels, scaled up, not smoothed
    var canvas = document.getElementById(canvasId), ctx = canvas.getContext("2d");
    canvas.dataset.pending = String(k);
    return image(uri).then(function (img) {
      if (canvas.dataset.pending !== String(k)) return;  // a later tile was asked for meanwhile
      var cols = data.columns, t = data.tile;
      ctx.imageSmoothingEnabled = false;
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, (k % cols) * t, Math.floor(k / cols) * t, t, t, 0, 0, canvas.width, canvas.height);
      canvas.dataset.tile = String(k);
      if (epoch !== undefined) canvas.dataset.epoch = String(epoch); else delete canvas.dataset.epoch;
    });
  }

  function traces() {
    var frame = data.frames[state.frame], out = [];
    data.classes.forEach(function (name, c) {
      var xs = [], ys = [], ks = [];
      data.labels.forEach(function (label, k) {
        if (label === c && frame.x[k] !== null && frame.y[k] !== null) { xs.push(frame.x[k]); ys.push(frame.y[k]); ks.push(k); }
      });
      out.push({type: "scatter", mode: "markers", name: name, x: xs, y: ys, customdata: ks,
                visible: state.shown[c] ? true : "legendonly",
                marker: {color: data.colours[c], size: 7, opacity: 0.8, line: {width: 0}},
                hovertemplate: (data.noun === "digit" ? "digit " : "") + name + "<extra></extra>"});
    });
    var click = state.click;
    out.push({type: "scatter", mode: "markers", name: "clicked", x: click ? [click.x] : [], y: click ? [click.y] : [],
              hoverinfo: "skip", showlegend: false,
              marker: {symbol: "x-thin", size: 14, color: "#000", line: {width: 2.5, color: "#000"}}});
    return out;
  }

  function layout(width) {
    var r = data.range, span = (r[3] - r[2]) / (r[1] - r[0] || 1);
    var plotW = width - MARGIN.l - MARGIN.r;
    var height = Math.round(Math.max(260, Math.min(620, plotW * Math.min(Math.max(span, 0.6), 1.25))) + MARGIN.t + MARGIN.b);
    var e = data.frames[state.frame].grid.extent;
    return {width: width, height: height, margin: MARGIN, dragmode: "zoom", hovermode: "closest", showlegend: false,
            font: {size: 12}, xaxis: {title: {text: data.axes[0]}, range: [r[0], r[1]], zeroline: false},
            yaxis: {title: {text: data.axes[1]}, range: [r[2], r[3]], zeroline: false},
            shapes: [{type: "rect", x0: e[0], x1: e[1], y0: e[2], y1: e[3], line: {dash: "dash", width: 1, color: "#888"}}]};
  }

  function ranges() {  // the axis ranges shown now (after any zoom)
    var l = plot.layout;
    return {x: l.xaxis.range.map(Number), y: l.yaxis.range.map(Number)};
  }

  function toData(clientX, clientY) {  // a point on the page -> data coordinates (null outside the plot area)
    var box = plot.getBoundingClientRect(), l = plot.layout, r = ranges();
    var w = l.width - MARGIN.l - MARGIN.r, h = l.height - MARGIN.t - MARGIN.b;
    var px = clientX - box.left - MARGIN.l, py = clientY - box.top - MARGIN.t;
    if (px < 0 || py < 0 || px > w || py > h) return null;
    return {x: r.x[0] + px / w * (r.x[1] - r.x[0]), y: r.y[1] - py / h * (r.y[1] - r.y[0])};
  }

  function decodeAt(point) {  // the nearest decoded grid point of the current checkpoint
    var grid = data.frames[state.frame].grid, e = grid.extent, n = grid.n;
    var j = Math.floor((point.x - e[0]) / (e[1] - e[0]) * n), i = Math.floor((e[3] - point.y) / (e[3] - e[2]) * n);
    state.click = {x: point.x, y: point.y, cell: (i >= 0 && i < n && j >= 0 && j < n) ? i * n + j : null};
    var where = "(" + point.x.toPrecision(3) + ", " + point.y.toPrecision(3) + ")";
    var canvas = document.getElementById("ex-decoded");
    Plotly.restyle(plot, {x: [[point.x]], y: [[point.y]]}, [data.classes.length]);
    if (state.click.cell === null) {
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
      delete canvas.dataset.tile;
      clickLabel.textContent = where + " lies outside the decoded grid of this checkpoint";
      return Promise.resolve(null);
    }
    clickLabel.textContent = "decoded at " + where + ", epoch " + data.frames[state.frame].epoch;
    return drawTile("ex-decoded", grid.sprite, state.click.cell, data.frames[state.frame].epoch)
      .then(function () { return state.click.cell; });
  }

  function showPoint(k) {  // a shown test digit: its image and its reconstruction at this checkpoint
    var c = data.labels[k], name = data.classes[c];
    hoverLabel.textContent = (data.noun === "digit" ? "digit " : "") + name + " (test item " + data.index[k] +
      "), epoch " + data.frames[state.frame].epoch;
    root.dataset.hovered = String(k);
    var frame = data.frames[state.frame];
    return Promise.all([drawTile("ex-digit", data.images, k), drawTile("ex-recon", frame.recon, k, frame.epoch)]);
  }

  function setFrame(i) {
    state.frame = i;
    epochLabel.textContent = "epoch " + data.frames[i].epoch;
    var view = ranges();
    var next = layout(plot.layout.width);
    next.xaxis.range = view.x;
    next.yaxis.range = view.y;
    return Plotly.react(plot, traces(), next).then(function () {
      if (root.dataset.hovered) showPoint(Number(root.dataset.hovered));
      if (state.click) decodeAt(state.click);
    });
  }

  function setClasses(shown) {
    state.shown = shown;
    root.querySelectorAll(".ex-class").forEach(function (b) {
      b.setAttribute("aria-pressed", String(shown[Number(b.dataset.class)]));
    });
    return Plotly.restyle(plot, {visible: shown.map(function (s) { return s ? true : "legendonly"; })},
                          shown.map(function (_, c) { return c; }));
  }

  function wire() {
    slider.addEventListener("input", function () { setFrame(Number(slider.value)); });
    root.querySelectorAll(".ex-class").forEach(function (b) {
      b.addEventListener("click", function () {
        var shown = state.shown.slice(), c = Number(b.dataset.class);
        shown[c] = !shown[c];
        setClasses(shown);
      });
    });
    root.querySelectorAll(".ex-all").forEach(function (b) {
      b.addEventListener("click", function () {
        setClasses(state.shown.map(function () { return b.dataset.all === "1"; }));
      });
    });
    function pointEvent(ev) {  // hover with a mouse; a tap on a touch screen is a click
      var p = ev.points && ev.points[0];
      if (p && p.customdata !== undefined && p.curveNumber < data.classes.length) showPoint(p.customdata);
    }
    plot.on("plotly_hover", pointEvent);
    plot.on("plotly_click", pointEvent);
    var down = null;  // a click = a press and a release within 4 px (a drag zooms)
    plot.addEventListener("pointerdown", function (ev) { down = {x: ev.clientX, y: ev.clientY}; }, true);
    window.addEventListener("pointerup", function (ev) {
      if (!down) return;
      var moved = Math.abs(ev.clientX - down.x) + Math.abs(ev.clientY - down.y);
      down = null;
      var point = moved <= 4 ? toData(ev.clientX, ev.clientY) : null;
      if (point) decodeAt(point);
    }, true);
    window.addEventListener("resize", function () {
      var width = plot.clientWidth;
      if (width && Math.abs(width - plot.layout.width) > 8) {
        var view = ranges(), next = layout(width);
        next.xaxis.range = view.x;
        next.yaxis.range = view.y;
        Plotly.react(plot, traces(), next);
      }
    });
  }

  function unpackPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser cannot unpack plotly.js (it needs DecompressionStream)"));
    }
    var text = document.getElementById("ex-plotly").textContent.trim();
    var binary = atob(text), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(function (source) {
      var script = document.createElement("script");
      script.textContent = source;
      document.head.appendChild(script);
      if (!window.Plotly) throw new Error("plotly.js did not load");
      return window.Plotly;
    });
  }

  function start() {
    if (api.started) return api.ready;
    api.started = true;
    var t0 = performance.now();
    status.textContent = "Unpacking plotly.js…";
    unpackPlotly().then(function () {
      api.unpackMs = performance.now() - t0;
      status.remove();
      var width = plot.clientWidth || 600;
      return Plotly.newPlot(plot, traces(), layout(width), {
        displaylogo: false, responsive: false, scrollZoom: false, doubleClick: "reset", showLink: false,
        showSendToCloud: false, showEditInChartStudio: false,
        modeBarButtonsToRemove: ["select2d", "lasso2d", "toggleSpikelines", "hoverCompareCartesian"]});
    }).then(function () {
      wire();
      api.readyMs = performance.now() - t0;
      api.showPoint = showPoint;
      api.decodeAt = decodeAt;
      api.setFrame = setFrame;
      api.setClasses = setClasses;
      api.toData = toData;
      root.dataset.ready = "1";
      resolveReady(api);
    }).catch(function (err) {
      status.textContent = "The explorer could not start: " + err.message + ". The static figures show the same codes.";
      rejectReady(err);
    });
    return api.ready;
  }
  api.start = start;

  function whenLoaded(fn) {  // the page first: the explorer's work starts after the load event
    if (document.readyState === "complete") setTimeout(fn, 0);
    else window.addEventListener("load", function () { setTimeout(fn, 0); });
  }
  if ("IntersectionObserver" in window) {
    var seen = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) { seen.disconnect(); whenLoaded(start); }
    }, {rootMargin: "200px"});
    seen.observe(root);
  } else {
    whenLoaded(start);
  }
})();
