/* tbreport: draws the report's scalar charts with uPlot from the data embedded in the page.
   Reads the JSON of #tbreport-data (or window.tbreportData), replaces each chart's static image
   as the chart scrolls into view, and keeps the view (smoothing, hidden runs, filter) in the URL
   fragment. No network, no eval; names only ever go into textContent. docs/html-report.md. */
(function () {
  "use strict";
  var doc = document;
  enhanceRuns(); // the runs table needs no chart data
  var source = doc.getElementById("tbreport-data");
  var page = source ? JSON.parse(source.textContent) : window.tbreportData;
  if (!page || page.format !== "tbreport-charts" || page.version !== 3) return;
  if (typeof uPlot !== "function" || typeof DecompressionStream !== "function") return;

  var MAX_WEIGHT = 0.999;
  var WALL_MIN = -62135596800, WALL_END = 253402300800; // years 1 to 9999, as the build
  var state = {
    smoothing: page.smoothing,
    hidden: new Set(),
    filter: "",
    xAxis: page.x_axis,
    yScale: "auto", // "auto" (the build's --log-y), "linear" or "log"
    outliers: page.ignore_outliers,
  };
  var charts = []; // one entry per element of the report; null when not drawn here

  // --- smoothing: TensorBoard's classicSmoothing (data_transformer.ts), same operations ---
  function smooth(values, weight) {
    var w = Number(weight);
    if (!isFinite(w)) w = 0;
    w = Math.min(Math.max(w, 0), 1);
    var n = values.length, out = new Float64Array(n), i;
    for (i = 0; i < n; i++) out[i] = values[i];
    if (w <= 0 || n === 0) return out;
    var first = out[0], constant = true;
    for (i = 0; i < n; i++) if (!(out[i] == first)) { constant = false; break; }
    if (constant) return out;
    var last = 0, k = 0;
    for (i = 0; i < n; i++) {
      var y = out[i];
      if (!isFinite(y)) continue; // passes through, does not advance the average
      last = last * w + (1 - w) * y;
      k++;
      out[i] = w === 1 ? last : last / (1 - Math.pow(w, k));
    }
    return out;
  }

  // --- data -------------------------------------------------------------------------------
  async function inflate(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(stream).arrayBuffer();
  }

  // format 2: per line, sections of `held` little-endian numbers stored as byte planes
  function decode(payload, buf) {
    var bytes = new Uint8Array(buf), at = 0;
    function take(size, n) { // the section's numbers back in order, as a fresh buffer
      var out = new Uint8Array(n * size);
      for (var j = 0; j < size; j++) {
        for (var i = 0, from = at + j * n; i < n; i++) out[i * size + j] = bytes[from + i];
      }
      at += n * size;
      return out.buffer;
    }
    function summed(n) { // int64 first-then-differences, summed in place (wrapping)
      var u = new Uint32Array(take(8, n)), lo = 0, hi = 0;
      for (var i = 0; i < n; i++) {
        var l = (lo + u[2 * i]) >>> 0;
        hi = (hi + u[2 * i + 1] + (l < lo ? 1 : 0)) >>> 0;
        lo = l;
        u[2 * i] = lo;
        u[2 * i + 1] = hi;
      }
      return u;
    }
    return payload.lines.map(function (meta) {
      var n = meta.held, bits = summed(n), steps = new Float64Array(n);
      for (var i = 0; i < n; i++) steps[i] = (bits[2 * i + 1] | 0) * 4294967296 + bits[2 * i];
      var wall = new Float64Array(summed(n).buffer);
      var values = meta.values === "f4"
        ? Float64Array.from(new Float32Array(take(4, n))) : new Float64Array(take(8, n));
      var built = meta.smoothed ? Float64Array.from(new Float32Array(take(4, n))) : null;
      var line = { meta: meta, steps: steps, wall: wall, values: values, built: built, cache: {} };
      if (meta.band) {
        line.lower = new Float64Array(take(8, n));
        line.upper = new Float64Array(take(8, n));
        line.count = new Float64Array(take(8, n));
      }
      return line;
    });
  }

  // a chart's weight: its own (a --source block's `smoothing`, else the page's) until the
  // reader moves the slider, then the slider's for every chart
  function weightOf(chart) {
    return state.smoothing === page.smoothing ? chart.payload.smoothing : state.smoothing;
  }

  function smoothedOf(chart, line) {
    var w = weightOf(chart);
    // a group's line and its faint runs: the build smoothed each run before aggregating
    if (line.meta.group || line.meta.faint) return line.values;
    // the build's weight: Python's smoothing of the full series, not of the points held here
    // (embedded when the page holds part of a series; of a whole one, smooth() is the same)
    if (line.built && w === chart.payload.smoothing) return line.built;
    if (!(w > 0)) return line.values;
    if (!line.cache[w]) line.cache = { [w]: smooth(line.values, w) };
    return line.cache[w];
  }

  function dated(t) { return isFinite(t) && t >= WALL_MIN && t < WALL_END; }

  // a --source block's own `x` is its chart's axis until the reader picks one for the page
  function xAxisOf(chart) {
    return state.xAxis === page.x_axis && chart.payload.x_axis ? chart.payload.x_axis : state.xAxis;
  }

  function xOf(chart, line) {
    var axis = xAxisOf(chart);
    if (axis === "step") return line.steps;
    var x = new Float64Array(line.wall.length), first = NaN, i;
    for (i = 0; i < x.length; i++) if (dated(line.wall[i])) { first = line.wall[i]; break; }
    for (i = 0; i < x.length; i++) {
      var t = line.wall[i];
      x[i] = dated(t) ? (axis === "relative" ? t - first : t) : NaN;
    }
    return x;
  }

  function logScale(chart) {
    return state.yScale === "auto" ? chart.payload.log_y : state.yScale === "log";
  }

  // every x of every line, sorted once; each series aligned to it (null where a run has none)
  function plotData(chart) {
    var log = logScale(chart), all = [];
    chart.lines.forEach(function (line) {
      line.x = xOf(chart, line);
      line.order = Array.from(line.x.keys()).filter(function (i) { return isFinite(line.x[i]); });
      line.order.sort(function (a, b) { return line.x[a] - line.x[b]; });
      line.order.forEach(function (i) { all.push(line.x[i]); });
    });
    all.sort(function (a, b) { return a - b; });
    var xs = all.filter(function (v, i) { return i === 0 || v !== all[i - 1]; });
    var data = [xs];
    chart.lines.forEach(function (line) {
      var sm = smoothedOf(chart, line), raw = new Array(xs.length).fill(null);
      var smo = new Array(xs.length).fill(null);
      line.sorted = line.order.map(function (i) { return line.x[i]; });
      line.order.forEach(function (i) {
        var at = lowerBound(xs, line.x[i]);
        raw[at] = drawable(line.values[i], log);
        smo[at] = drawable(sm[i], log);
      });
      data.push(raw, smo);
    });
    return data;
  }

  function drawable(v, log) { return isFinite(v) && (!log || v > 0) ? v : null; }

  function lowerBound(arr, v) {
    var lo = 0, hi = arr.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (arr[mid] < v) lo = mid + 1; else hi = mid; }
    return lo;
  }

  // --- y range: every smoothed point and every last point in view; raw outliers may be cut --
  function yRange(chart, u) {
    // the author's y_range (a --source block's) stays; on a log scale a low end at or below
    // zero gives way to the data's, as in the image
    var fixed = chart.payload.y_range, log = logScale(chart);
    if (fixed && (!log || fixed[0] > 0)) return [fixed[0], fixed[1]];
    var auto = fittedRange(chart, u);
    return fixed && fixed[1] > 0 ? [auto[0] < fixed[1] ? auto[0] : fixed[1] / 1000, fixed[1]] : auto;
  }

  function fittedRange(chart, u) {
    var log = logScale(chart), xmin = u.scales.x.min, xmax = u.scales.x.max;
    var raw = [], keep = [];
    chart.lines.forEach(function (line) {
      if (state.hidden.has(shownAs(line))) return;
      var sm = smoothedOf(chart, line);
      line.order.forEach(function (i, k) {
        var x = line.x[i];
        if (xmin != null && (x < xmin || x > xmax)) return;
        var v = drawable(line.values[i], log), s = drawable(sm[i], log);
        if (v !== null) raw.push(v);
        if (s !== null) keep.push(s);
        if (k === line.order.length - 1 && v !== null) keep.push(v);
        if (line.lower) {
          // a group's band stays in view, as its centre does
          [line.lower[i], line.upper[i]].forEach(function (b) {
            if (drawable(b, log) !== null) keep.push(b);
          });
        }
      });
    });
    var lo = Infinity, hi = -Infinity;
    var own = chart.payload.ignore_outliers;
    var outliers = state.outliers === page.ignore_outliers && own !== undefined ? own : state.outliers;
    if (outliers && raw.length > 2) {
      raw.sort(function (a, b) { return a - b; });
      var n = raw.length;
      lo = raw[Math.ceil((n - 1) * 0.05)];
      hi = raw[Math.floor((n - 1) * 0.95)];
    } else {
      keep = keep.concat(raw);
    }
    keep.forEach(function (v) { if (v < lo) lo = v; if (v > hi) hi = v; });
    if (!isFinite(lo)) return log ? [0.1, 10] : [-1, 1];
    if (log) return [lo / 2, hi * 2];
    if (lo === hi) return lo === 0 ? [-1, 1] : lo < 0 ? [2 * lo, 0] : [0, 2 * lo];
    var pad = (hi - lo + Number.EPSILON) * 0.05;
    return [lo - pad, hi + pad];
  }

  // --- drawing ----------------------------------------------------------------------------
  function rgba(hex, alpha) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) return hex;
    return "rgba(" + [1, 2, 3].map(function (i) { return parseInt(m[i], 16); }).join(",") +
      "," + alpha + ")";
  }

  function el(tag, cls, text) {
    var e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function fmt(v) {
    if (v == null) return "–";
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : String(+v.toPrecision(6));
  }

  function fmtWall(t) { return dated(t) ? new Date(t * 1000).toISOString().replace(".000", "") : "–"; }

  function nearest(line, x) {
    var xs = line.sorted;
    if (!xs.length) return -1;
    var at = lowerBound(xs, x);
    if (at >= xs.length) at = xs.length - 1;
    else if (at > 0 && x - xs[at - 1] < xs[at] - x) at -= 1;
    return line.order[at];
  }

  function build(chart) {
    var box = chart.box;
    if (chart.plot) chart.plot.destroy();
    var data = plotData(chart), log = logScale(chart);
    var series = [{ label: "x" }];
    chart.lines.forEach(function (line) {
      var show = !state.hidden.has(shownAs(line));
      var dash = line.meta.dashed ? [6, 4] : DASHES[line.meta.style];
      if (line.meta.group || line.meta.faint) {
        // already smoothed per run: one opaque line (faint for a member run), no second one
        var faint = line.meta.faint;
        series.push({ label: line.meta.label, stroke: rgba(line.meta.color, faint ? 0.28 : 1),
          width: faint ? 0.8 : 1.6, spanGaps: true, show: show, dash: dash,
          points: { show: false } });
        series.push({ label: line.meta.label, stroke: line.meta.color, width: 0, spanGaps: true,
          show: false, points: { show: false } });
        return;
      }
      var smoothing = weightOf(chart) > 0;
      series.push({ label: line.meta.label, stroke: rgba(line.meta.color, smoothing ? 0.25 : 1),
        width: 1, spanGaps: true, show: show, dash: dash, points: { show: false } });
      series.push({ label: line.meta.label, stroke: line.meta.color, width: smoothing ? 1.5 : 0,
        spanGaps: true, show: show && smoothing, dash: dash, points: { show: false } });
    });
    var opts = {
      width: Math.max(box.clientWidth, 200),
      height: Math.round(Math.max(box.clientWidth, 200) * 0.55),
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, points: { show: false } },
      scales: {
        x: { time: xAxisOf(chart) === "wall" },
        y: { distr: log ? 3 : 1, range: function (u) { return yRange(chart, u); } },
      },
      axes: [{ label: { step: "step", relative: "seconds", wall: "" }[xAxisOf(chart)] }, {}],
      series: series,
      hooks: {
        setCursor: [function (u) { readout(chart, u); }],
        drawClear: [function (u) { drawBands(chart, u); }],
      },
    };
    chart.plot = new uPlot(opts, data, chart.canvas);
    chart.data = data;
    note(chart);
  }

  // line styles (Line.style) as canvas dash patterns and CSS border styles for the swatches
  var DASHES = { dashed: [6, 4], dotted: [1.5, 3], dashdot: [6, 3, 1.5, 3] };
  var BORDERS = { dashed: "dashed", dotted: "dotted", dashdot: "double" };

  // the legend entry that shows or hides a line: a member run goes with its group
  function shownAs(line) { return line.meta.faint ? line.meta.in_group : line.meta.run; }

  // a group's band, under the lines: one filled polygon per stretch of finite bounds
  function drawBands(chart, u) {
    var ctx = u.ctx, log = logScale(chart), b = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(b.left, b.top, b.width, b.height);
    ctx.clip();
    chart.lines.forEach(function (line) {
      if (!line.lower || state.hidden.has(line.meta.run)) return;
      ctx.fillStyle = rgba(line.meta.color, 0.22);
      var run = [];
      var flush = function () {
        if (run.length > 1) {
          ctx.beginPath();
          run.forEach(function (p, k) { ctx[k ? "lineTo" : "moveTo"](p[0], p[1]); });
          for (var k = run.length - 1; k >= 0; k--) ctx.lineTo(run[k][0], run[k][2]);
          ctx.closePath();
          ctx.fill();
        }
        run = [];
      };
      line.order.forEach(function (i) {
        var lo = drawable(line.lower[i], log), hi = drawable(line.upper[i], log);
        if (lo === null || hi === null) { flush(); return; }
        run.push([u.valToPos(line.x[i], "x", true), u.valToPos(lo, "y", true),
          u.valToPos(hi, "y", true)]);
      });
      flush();
    });
    ctx.restore();
  }

  function readout(chart, u) {
    var idx = u.cursor.idx, rows = chart.rows;
    if (idx == null) { chart.readout.hidden = true; return; }
    var x = u.data[0][idx];
    if (chart.readout.hidden) chart.readout.hidden = false;
    chart.readout.dataset.x = String(x);
    chart.lines.forEach(function (line, k) {
      var row = rows[k], i = nearest(line, x);
      var hide = state.hidden.has(line.meta.run) || i < 0 || !!line.meta.faint;
      if (row.tr.hidden !== hide) row.tr.hidden = hide;
      if (hide) return;
      var sm = smoothedOf(chart, line);
      // the same point as the last move: nothing to write (no text, style or layout work)
      if (row.at === i && row.sm === sm) return;
      row.at = i;
      row.sm = sm;
      row.step.textContent = String(line.steps[i]);
      row.wall.textContent = fmtWall(line.wall[i]);
      row.raw.textContent = fmt(line.values[i]);
      // a group's line: its band and how many runs are behind the point
      row.smoothed.textContent = line.lower
        ? fmt(line.lower[i]) + " to " + fmt(line.upper[i]) + " (n=" + line.count[i] + ")"
        : fmt(sm[i]);
      if (line.count) row.tr.dataset.n = String(line.count[i]);
      row.tr.dataset.step = String(line.steps[i]);
      row.tr.dataset.wall = String(line.wall[i]);
      row.tr.dataset.raw = String(line.values[i]);
      row.tr.dataset.smoothed = String(sm[i]);
    });
  }

  function note(chart) {
    var held = 0, points = 0;
    chart.lines.forEach(function (l) { held += l.meta.held; points += l.meta.points; });
    var text = "";
    if (held < points) {
      var n = function (v) { return v.toLocaleString("en-US"); };
      var w = weightOf(chart);
      text = w === chart.payload.smoothing && w > 0
        ? "smoothed over all " + n(points) + " points; the page holds " + n(held)
        : w > 0 ? "smoothing over " + n(held) + " of " + n(points) + " points" : "";
    }
    chart.note.textContent = text;
  }

  // legend entries shown before the rest are summed up in a "+N more" button (as the images)
  var LEGEND_SHOWN = 12;

  function swatch(meta) {
    var sw = el("span", "swatch");
    var style = meta.dashed ? "dashed" : meta.style;
    if (style && BORDERS[style]) {
      // a line sample, so entries sharing a colour show their different styles
      sw.classList.add("tbr-line-swatch");
      sw.style.borderTop = "3px " + BORDERS[style] + " " + meta.color;
    } else {
      sw.style.background = meta.color;
    }
    return sw;
  }

  function colourBar() {
    var scale = page.colour_scale;
    if (!scale) return null;
    var bar = el("div", "tbr-colorbar");
    var ramp = el("span", "tbr-ramp");
    ramp.style.background = "linear-gradient(to right, " + scale.stops.join(", ") + ")";
    bar.append(el("span", null, scale.name + (scale.log ? " (log scale)" : "")),
      el("span", "num", fmt(scale.low)), ramp, el("span", "num", fmt(scale.high)));
    return bar;
  }

  function legend(chart) {
    var box = el("div", "tbr-legend");
    var entries = [];
    chart.lines.forEach(function (line) {
      if (line.meta.faint) return; // under its group's entry
      var b = el("button", "tbr-run");
      b.type = "button";
      b.title = line.meta.label; // the whole name, when the entry cuts it with an ellipsis
      b.append(swatch(line.meta), el("bdi", null, line.meta.label));
      b.addEventListener("click", function (ev) {
        if (ev.shiftKey) {
          page.runs.forEach(function (r) { state.hidden[r === line.meta.run ? "delete" : "add"](r); });
          changed();
        } else {
          setHidden(line.meta.run, !state.hidden.has(line.meta.run));
        }
      });
      line.button = b;
      entries.push(b);
      box.append(b);
    });
    if (entries.length > LEGEND_SHOWN) {
      var rest = entries.slice(LEGEND_SHOWN - 1);
      rest.forEach(function (b) { b.hidden = true; });
      var more = el("button", "tbr-more", "+" + rest.length + " more");
      more.type = "button";
      more.setAttribute("aria-expanded", "false");
      more.addEventListener("click", function () {
        var open = more.getAttribute("aria-expanded") !== "true";
        rest.forEach(function (b) { b.hidden = !open; });
        more.setAttribute("aria-expanded", open ? "true" : "false");
        box.classList.toggle("tbr-unfolded", open);
        more.textContent = open ? "fewer" : "+" + rest.length + " more";
        box.append(more); // at the end of whatever is shown
      });
      box.append(more);
    }
    var bar = colourBar();
    if (!bar) return box;
    var wrap = el("div", "tbr-legend-wrap");
    wrap.append(box, bar);
    return wrap;
  }

  function readoutTable(chart) {
    var table = el("table", "tbr-readout");
    var head = el("tr");
    var grouped = chart.payload.lines.some(function (l) { return l.group; });
    ["Run", "Step", "Wall time", "Value", grouped ? "Smoothed, or band (n runs)" : "Smoothed"]
      .forEach(function (h) { head.append(el("th", null, h)); });
    table.append(head);
    chart.rows = chart.lines.map(function (line) {
      var tr = el("tr"), name = el("td");
      tr.dataset.run = line.meta.run;
      name.append(el("bdi", null, line.meta.label));
      var row = { tr: tr, step: el("td", "num"), wall: el("td"), raw: el("td", "num"), smoothed: el("td", "num") };
      tr.append(name, row.step, row.wall, row.raw, row.smoothed);
      table.append(tr);
      return row;
    });
    table.hidden = true;
    return table;
  }

  function csv(chart) {
    var quote = function (s) {
      if (/^[=+\-@\t\r]/.test(s)) s = "'" + s; // spreadsheets run such cells as formulas
      return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    };
    var axis = xAxisOf(chart), xname = axis === "wall" ? "wall_time" : axis;
    var out = ["run," + xname + ",step,value,smoothed"];
    chart.lines.forEach(function (line) {
      var sm = smoothedOf(chart, line), x = xOf(chart, line), name = quote(line.meta.run);
      for (var i = 0; i < line.values.length; i++) {
        out.push([name, x[i], line.steps[i], line.values[i], sm[i]].join(","));
      }
    });
    return out.join("\n") + "\n";
  }

  function download(chart) {
    var a = el("a");
    a.href = URL.createObjectURL(new Blob([csv(chart)], { type: "text/csv" }));
    a.download = chart.payload.slug + ".csv";
    doc.body.append(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 0);
  }

  async function render(chart) {
    if (chart.rendering) return chart.rendering;
    chart.rendering = (async function () {
      chart.lines = decode(chart.payload, await inflate(chart.payload.data));
      var box = chart.box;
      chart.canvas = el("div", "tbr-plot");
      chart.note = el("p", "tbr-note");
      chart.readout = readoutTable(chart);
      var link = el("button", "tbr-csv", "Plotted data (CSV)");
      link.type = "button";
      link.addEventListener("click", function () { download(chart); });
      box.replaceChildren(legend(chart), chart.canvas, chart.note, chart.readout);
      // the HTML report's caption gets the download; a Jekyll post's caption already links
      // the plotted-data file written beside the post
      var caption = box.closest("figure") && box.closest("figure").querySelector("figcaption");
      if (caption) caption.append(" ", link);
      chart.canvas.addEventListener("dblclick", function () { build(chart); });
      build(chart);
      paintLegend(chart);
      box.dataset.tbreportState = "drawn";
      if (typeof ResizeObserver === "function") {
        var width = box.clientWidth;
        new ResizeObserver(function () {
          if (box.clientWidth !== width && chart.plot) {
            width = box.clientWidth;
            chart.plot.setSize({ width: width, height: Math.round(width * 0.55) });
          }
        }).observe(box);
      }
    })();
    return chart.rendering;
  }

  function paintLegend(chart) {
    chart.lines.forEach(function (line) {
      if (!line.button) return; // a group's member run has no entry
      var off = state.hidden.has(line.meta.run);
      line.button.setAttribute("aria-pressed", off ? "false" : "true");
      line.button.classList.toggle("off", off);
    });
  }

  // --- state ------------------------------------------------------------------------------
  function filterRegex() {
    try { return state.filter ? new RegExp(state.filter, "i") : null; } catch (e) { return undefined; }
  }

  function changed(opts) {
    var rebuild = !opts || opts.rebuild !== false;
    var re = filterRegex();
    if (controls.filter) controls.filter.setAttribute("aria-invalid", re === undefined ? "true" : "false");
    charts.forEach(function (chart) {
      if (!chart) return;
      var figure = chart.box.closest("figure") || chart.box;
      figure.hidden = !!re && !re.test(chart.payload.tag);
      if (chart.plot && rebuild) { build(chart); paintLegend(chart); }
      // a folded section holding a chart the filter asks for opens
      var fold = re && !figure.hidden ? figure.closest("details.tbr-fold") : null;
      if (fold) fold.open = true;
    });
    syncControls();
    writeHash();
  }

  function writeHash() {
    var p = new URLSearchParams();
    if (state.smoothing !== page.smoothing) p.set("smoothing", String(state.smoothing));
    Array.from(state.hidden).sort().forEach(function (r) { p.append("hide", r); });
    if (state.filter) p.set("filter", state.filter);
    if (state.xAxis !== page.x_axis) p.set("x", state.xAxis);
    if (state.yScale !== "auto") p.set("y", state.yScale);
    if (state.outliers !== page.ignore_outliers) p.set("outliers", state.outliers ? "1" : "0");
    var hash = p.toString(), url = location.href.split("#")[0] + (hash ? "#" + hash : "");
    if (url === location.href) return;
    try { history.replaceState(null, "", url); } catch (e) { location.replace(hash ? "#" + hash : "#"); }
  }

  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    var w = parseFloat(p.get("smoothing"));
    state.smoothing = p.has("smoothing") && isFinite(w) ? Math.min(Math.max(w, 0), MAX_WEIGHT) : page.smoothing;
    state.hidden = new Set(p.getAll("hide"));
    state.filter = p.get("filter") || "";
    var x = p.get("x");
    state.xAxis = ["step", "relative", "wall"].indexOf(x) >= 0 ? x : page.x_axis;
    var y = p.get("y");
    state.yScale = y === "linear" || y === "log" ? y : "auto";
    state.outliers = p.has("outliers") ? p.get("outliers") === "1" : page.ignore_outliers;
  }

  // --- controls ---------------------------------------------------------------------------
  var controls = {};
  function control(label, input) {
    var l = el("label", "tbr-control");
    l.append(el("span", null, label), input);
    return l;
  }

  function makeControls() {
    var bar = doc.getElementById("tbreport-controls");
    if (!bar) { bar = el("div"); bar.id = "tbreport-controls"; doc.body.prepend(bar); }
    var s = controls.smoothing = el("input");
    s.type = "range"; s.min = "0"; s.max = String(MAX_WEIGHT); s.step = "0.001";
    controls.weight = el("output", "tbr-weight");
    s.addEventListener("input", function () { setSmoothing(parseFloat(s.value)); });
    var x = controls.x = el("select");
    [["step", "Step"], ["relative", "Relative"], ["wall", "Wall"]].forEach(function (o) {
      var opt = el("option", null, o[1]); opt.value = o[0]; x.append(opt);
    });
    x.addEventListener("change", function () { state.xAxis = x.value; changed(); });
    var y = controls.y = el("select");
    [["auto", "as built"], ["linear", "linear"], ["log", "log"]].forEach(function (o) {
      var opt = el("option", null, o[1]); opt.value = o[0]; y.append(opt);
    });
    y.addEventListener("change", function () { state.yScale = y.value; changed(); });
    var o = controls.outliers = el("input");
    o.type = "checkbox";
    o.addEventListener("change", function () { state.outliers = o.checked; changed(); });
    var f = controls.filter = el("input");
    f.type = "search"; f.placeholder = "regex"; f.spellcheck = false;
    f.addEventListener("input", function () { state.filter = f.value; changed({ rebuild: false }); });
    var weight = control("Smoothing", s);
    weight.append(controls.weight);
    bar.replaceChildren(weight, control("X axis", x), control("Y scale", y),
      control("Ignore outliers", o), control("Filter tags", f));
    bar.hidden = false;
  }

  function syncControls() {
    if (!controls.smoothing) return;
    controls.smoothing.value = String(state.smoothing);
    controls.weight.textContent = state.smoothing.toFixed(3);
    controls.x.value = state.xAxis;
    controls.y.value = state.yScale;
    controls.outliers.checked = state.outliers;
    if (controls.filter.value !== state.filter) controls.filter.value = state.filter;
  }

  // --- page API (docs/html-report.md) -------------------------------------------------------
  function setSmoothing(w) {
    var v = Number(w);
    state.smoothing = isFinite(v) ? Math.min(Math.max(v, 0), MAX_WEIGHT) : 0;
    changed();
  }

  function setHidden(run, hidden) {
    state.hidden[hidden ? "add" : "delete"](String(run));
    changed();
  }

  function chartFor(tag) {
    return charts.find(function (c) { return c && c.payload.tag === tag; });
  }

  window.tbreport = {
    version: page.version,
    smooth: function (values, weight) { return Array.from(smooth(values, weight)); },
    setSmoothing: setSmoothing,
    setHidden: setHidden,
    setFilter: function (re) { state.filter = String(re); changed({ rebuild: false }); },
    state: function () {
      return { smoothing: state.smoothing, hidden: Array.from(state.hidden).sort(),
        filter: state.filter, xAxis: state.xAxis, yScale: state.yScale, outliers: state.outliers };
    },
    render: function (tag) { var c = chartFor(tag); return c ? render(c) : Promise.resolve(); },
    // what a chart plots now: x and, per run, raw and smoothed values and whether it is shown
    plotted: function (tag) {
      var c = chartFor(tag);
      if (!c || !c.plot) return null;
      return { x: Array.from(c.data[0]), runs: c.lines.map(function (line, k) {
        return { run: line.meta.run, raw: c.data[1 + 2 * k], smoothed: c.data[2 + 2 * k],
          shown: c.plot.series[1 + 2 * k].show };
      }), y: [c.plot.scales.y.min, c.plot.scales.y.max] };
    },
  };

  // --- the runs table: one paged, sortable, filterable table ------------------------------
  // The page shows the --top-runs best runs and collapses the rest in a details element; the script
  // joins them and shows RUN_PAGE rows at a time. Sorting uses a cell's data-sort (the full
  // number) when it has one, else its text (numbers in it compared as numbers).
  // The HParams trials tables (one row per trial) get the same bar, named for trials.
  function enhanceRuns() {
    enhanceTable(doc.querySelector("table.runs[data-tbreport-runs]"),
                 doc.querySelector("details.runs-more"), "runs", "run");
    doc.querySelectorAll("table.hparams[data-tbreport-rows]").forEach(function (table) {
      enhanceTable(table, null, "trials", "trial");
    });
  }

  function enhanceTable(table, more, noun, one) {
    var RUN_PAGE = 50;
    if (!table || table.dataset.tbreportState || !table.tBodies.length || !table.tHead) return;
    var body = table.tBodies[0];
    if (more) {
      more.querySelectorAll("tbody tr").forEach(function (tr) { body.append(tr); });
      more.remove();
    }
    var all = Array.from(body.rows);
    var RUN_FILTER_FROM = 10;
    var view = { filter: "", col: -1, desc: false, page: 0 };
    var input = el("input");
    input.type = "search"; input.placeholder = "regex"; input.spellcheck = false;
    var count = el("span", "tbr-" + noun + "-count tbr-rows-count");
    var prev = el("button", "tbr-page", "\u2039 Previous"), next = el("button", "tbr-page", "Next \u203a");
    prev.type = next.type = "button";
    var where = el("span", "tbr-" + noun + "-page tbr-rows-page");
    var bar = el("div", "tbr-" + noun + "-bar tbr-rows-bar");
    bar.append(control("Filter " + noun, input), count, prev, where, next);
    // a short table needs no filter or pages (its headers still sort)
    bar.hidden = all.length <= RUN_FILTER_FROM;
    (table.closest(".scroll") || table).before(bar);
    var heads = Array.from(table.tHead.rows[0].cells);
    heads.forEach(function (th, col) {
      var b = el("button", "tbr-sort");
      b.type = "button";
      while (th.firstChild) b.append(th.firstChild);
      th.append(b);
      th.setAttribute("aria-sort", "none");
      b.addEventListener("click", function () {
        view.desc = view.col === col ? !view.desc : false;
        view.col = col;
        view.page = 0;
        update();
      });
    });
    input.addEventListener("input", function () { view.filter = input.value; view.page = 0; update(); });
    prev.addEventListener("click", function () { view.page -= 1; update(); });
    next.addEventListener("click", function () { view.page += 1; update(); });

    function sortKey(tr) {
      var td = tr.cells[view.col];
      if (!td) return { missing: true, text: "" };
      var s = td.dataset.sort;
      if (s !== undefined) {
        var v = parseFloat(s);
        return isFinite(v) ? { num: v } : { missing: true, text: "" };
      }
      var text = td.textContent.trim();
      // a cell that is just a number (a hyperparameter's 0.001) sorts as that number
      if (NUMBER.test(text)) return { num: parseFloat(text.replace("\u2212", "-")) };
      return { missing: text === "" || text === "\u2013", text: text };
    }
    var NUMBER = /^[-+\u2212]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;
    var collator = new Intl.Collator("en", { sensitivity: "base" });
    // numbers in names by value, decimals too, as tbreport orders runs (lr0.001 < lr0.01 <
    // lr0.1 whatever follows; a numeric collator compares "01" and "1" as equal integers)
    var CHUNK = /(\d+(?:\.\d*)?(?:e[-+]?\d+)?)/i;
    function natural(a, b) {
      var pa = a.split(CHUNK), pb = b.split(CHUNK);
      for (var i = 0; i < Math.min(pa.length, pb.length); i++) {
        var c = i % 2 ? parseFloat(pa[i]) - parseFloat(pb[i]) : collator.compare(pa[i], pb[i]);
        if (c) return c;
      }
      return pa.length - pb.length || collator.compare(a, b);
    }
    function compare(a, b) {
      var ka = sortKey(a), kb = sortKey(b);
      if (ka.missing || kb.missing) return ka.missing === kb.missing ? 0 : ka.missing ? 1 : -1;
      var c = "num" in ka && "num" in kb ? ka.num - kb.num : natural(ka.text, kb.text);
      return view.desc ? -c : c;
    }
    function update() {
      var re = null, bad = false;
      try { re = view.filter ? new RegExp(view.filter, "i") : null; } catch (e) { bad = true; }
      input.setAttribute("aria-invalid", bad ? "true" : "false");
      var rows = all.filter(function (tr) { return !re || re.test(tr.textContent); });
      if (view.col >= 0) rows = rows.slice().sort(compare); // stable: page order between ties
      var pages = Math.max(1, Math.ceil(rows.length / RUN_PAGE));
      view.page = Math.min(Math.max(view.page, 0), pages - 1);
      var first = view.page * RUN_PAGE, shown = rows.slice(first, first + RUN_PAGE);
      body.replaceChildren.apply(body, shown);
      heads.forEach(function (th, col) {
        th.setAttribute("aria-sort", col !== view.col ? "none" : view.desc ? "descending" : "ascending");
      });
      var n = function (v) { return v.toLocaleString("en-US"); };
      count.textContent = rows.length
        ? noun + " " + n(first + 1) + "\u2013" + n(first + shown.length) + " of " + n(rows.length) +
          (rows.length < all.length ? " (filtered from " + n(all.length) + ")" : "")
        : "no " + one + " matches";
      where.textContent = "page " + (view.page + 1) + " of " + pages;
      prev.disabled = view.page === 0;
      next.disabled = view.page >= pages - 1;
      prev.hidden = next.hidden = where.hidden = all.length <= RUN_PAGE;
      table.dataset.tbreportPage = String(view.page + 1);
    }
    update();
    table.dataset.tbreportState = "ready";
  }

  // --- start --------------------------------------------------------------------------------
  page.runs = [];
  var seen = new Set();
  page.charts.forEach(function (p) {
    if (p) p.lines.forEach(function (l) { if (!seen.has(l.run)) { seen.add(l.run); page.runs.push(l.run); } });
  });
  readHash();
  makeControls();
  var boxes = doc.querySelectorAll(".tbr-chart[data-tbreport-index]");
  var observer = typeof IntersectionObserver === "function" ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      if (!e.isIntersecting) return;
      observer.unobserve(e.target);
      render(charts[+e.target.dataset.tbreportIndex]);
    });
  }, { rootMargin: "300px 0px" }) : null;
  boxes.forEach(function (box) {
    var i = +box.dataset.tbreportIndex, payload = page.charts[i];
    if (!payload) return;
    box.dataset.tbreportTag = payload.tag;
    charts[i] = { payload: payload, box: box };
    if (observer) observer.observe(box); else render(charts[i]);
  });
  changed({ rebuild: false });
  window.addEventListener("hashchange", function () { readHash(); changed(); });
  // a link to a folded section (the contents) opens it
  function unfold(id) {
    var target = id && doc.getElementById(id);
    var fold = target && (target.querySelector("details.tbr-fold") || target.closest("details.tbr-fold"));
    if (fold) fold.open = true;
  }
  doc.querySelectorAll("nav.toc a[href^='#']").forEach(function (a) {
    a.addEventListener("click", function () { unfold(a.getAttribute("href").slice(1)); });
  });
  if (location.hash.length > 1 && location.hash.indexOf("=") < 0) unfold(decodeURIComponent(location.hash.slice(1)));
})();
