/* Analytics charts and tables, shared by the agents' console (#/analytics, leads only) and `frontdoor report`
   (which inlines this file, Chart.js and the data into one HTML file). Plain JS, no build step, nothing from
   the network; every text goes into the page with textContent. Each chart has a table next to it with the
   exact numbers and their denominators, and a caption with the period's totals.
   window.FrontdoorAnalytics.render(root, data, lang): data = GET /api/v1/lead/analytics?since=... */
(function (global) {
  "use strict";

  var TEXT = {
    en: {
      deflection: "Deflection: answered by the KB without a ticket",
      deflectionDef: "Conversations the knowledge base answered (once per conversation and day) that got no ticket within 24 h, of those whose 24 h have passed or that got a ticket. Pending: answered less than 24 h ago, no ticket yet (in neither number).",
      helpedVotes: "“Helped” votes",
      helpedVotesDef: "“Helped” over all votes on KB answers; one vote per conversation, article and day (the last one).",
      signals: "What the bot did",
      signalsDef: "The bot's signals: answered from the KB, two close candidates, no answer, votes, declined (another company's product).",
      escalation: "Escalation rate",
      escalationDef: "Escalations in the period (by agents and by the SLA watcher) over tickets created in the period; per agent: the agent's escalations over the agent's claims.",
      escalationOverTime: "Escalation rate over time",
      sla: "SLA: first response met",
      slaDef: "First responses decided in the period (the first agent reply, or the SLA watcher's breach, whichever came first) that met the deadline, of all decided.",
      slaOverTime: "First response met over time",
      csat: "Customer satisfaction (CSAT)",
      csatDef: "Ratings of 4 or 5 over all ratings given in the period; the average of all ratings.",
      csatAverage: "Average rating over time",
      incidents: "Incidents",
      incidentsDef: "Incidents opened and resolved, conversations linked to an incident (reported or told by the bot) and unlinked again.",
      by_category: "by category", by_tag: "by tag", by_article: "by KB article (shown, did not help)",
      by_agent: "by agent", by_queue: "by queue", dimension: "Breakdown",
      total: "Total", bucket_day: "Day", bucket_hour: "Hour", key: "Name", rate: "Rate",
      answered: "Answered", deflected: "No ticket within 24 h", ticketed: "Ticket within 24 h", pending: "Pending",
      helped: "Helped", notHelped: "Did not help", votes: "Votes", escalations: "Escalations",
      newTickets: "New tickets", claimedTickets: "Claims", met: "Met", decided: "Decided",
      late: "Missed", ratings: "Ratings", positive: "4–5", average: "Average", opened: "Opened", resolved: "Resolved",
      linked: "Conversations linked", unlinked: "Unlinked again", rating: "Rating",
      kb_answered: "KB answered", kb_ambiguous: "Two close answers", kb_no_answer: "No answer", kb_feedback: "Votes",
      declined: "Declined",
      of: "{n} of {d} {unit} ({pct})",
      u_conversations: "conversations", u_votes: "votes", u_decided: "first responses due", u_ratings: "ratings",
      deflectionTotal: "{of} got no ticket within 24 h; {pending} more still within 24 h.",
      escalationTotal: "{n} escalations of {d} new tickets ({pct}); {w} of them by the SLA watcher.",
      csatTotal: "{of} were 4 or 5; average {avg}.",
      incidentsTotal: "{o} opened, {r} resolved, {l} conversations linked ({u} unlinked again).",
      period: "{from} – {to} ({tz})",
      historyFrom: "The stored history starts {date}: figures before it are incomplete.",
      noCharts: "Charts are not available (Chart.js is missing: run make install); the tables show every figure.",
      more: "… and {n} more", unknown: "(unknown)", none: "–",
      chartOf: "Chart: {title}. The table next to it has the numbers."
    },
    de: {
      deflection: "Deflection: von der Wissensdatenbank beantwortet, ohne Ticket",
      deflectionDef: "Gespräche mit einer Antwort aus der Wissensdatenbank (einmal pro Gespräch und Tag), die innerhalb von 24 Std. kein Ticket bekamen, von denen, deren 24 Std. vorbei sind oder die ein Ticket bekamen. Offen: vor weniger als 24 Std. beantwortet, noch kein Ticket (in keiner der beiden Zahlen).",
      helpedVotes: "„Hat geholfen“-Stimmen",
      helpedVotesDef: "„Hat geholfen“ von allen Stimmen zu KB-Antworten; eine Stimme pro Gespräch, Artikel und Tag (die letzte).",
      signals: "Was der Bot tat",
      signalsDef: "Die Signale des Bots: aus der Wissensdatenbank beantwortet, zwei ähnliche Kandidaten, keine Antwort, Stimmen, abgelehnt (Produkt einer anderen Firma).",
      escalation: "Eskalationsquote",
      escalationDef: "Eskalationen im Zeitraum (durch Agenten und den SLA-Wächter) im Verhältnis zu den im Zeitraum erstellten Tickets; pro Agent: seine Eskalationen im Verhältnis zu seinen Übernahmen.",
      escalationOverTime: "Eskalationsquote im Verlauf",
      sla: "SLA: erste Antwort eingehalten",
      slaDef: "Im Zeitraum entschiedene erste Antworten (die erste Antwort eines Agenten oder die SLA-Verletzung, was zuerst kam), die die Frist einhielten, von allen entschiedenen.",
      slaOverTime: "Erste Antwort eingehalten im Verlauf",
      csat: "Kundenzufriedenheit (CSAT)",
      csatDef: "Bewertungen mit 4 oder 5 von allen im Zeitraum abgegebenen Bewertungen; der Durchschnitt aller Bewertungen.",
      csatAverage: "Durchschnittliche Bewertung im Verlauf",
      incidents: "Störungen",
      incidentsDef: "Eröffnete und behobene Störungen, mit einer Störung verknüpfte Gespräche (gemeldet oder vom Bot informiert) und wieder gelöste Verknüpfungen.",
      by_category: "nach Kategorie", by_tag: "nach Tag", by_article: "nach KB-Artikel (gezeigt, half nicht)",
      by_agent: "nach Agent", by_queue: "nach Queue", dimension: "Aufschlüsselung",
      total: "Gesamt", bucket_day: "Tag", bucket_hour: "Stunde", key: "Name", rate: "Quote",
      answered: "Beantwortet", deflected: "Kein Ticket in 24 Std.", ticketed: "Ticket in 24 Std.", pending: "Offen",
      helped: "Hat geholfen", notHelped: "Hat nicht geholfen", votes: "Stimmen", escalations: "Eskalationen",
      newTickets: "Neue Tickets", claimedTickets: "Übernahmen", met: "Eingehalten", decided: "Entschieden",
      late: "Verfehlt", ratings: "Bewertungen", positive: "4–5", average: "Durchschnitt", opened: "Eröffnet",
      resolved: "Behoben", linked: "Verknüpfte Gespräche", unlinked: "Wieder gelöst", rating: "Bewertung",
      kb_answered: "KB-Antwort", kb_ambiguous: "Zwei ähnliche Antworten", kb_no_answer: "Keine Antwort",
      kb_feedback: "Stimmen", declined: "Abgelehnt",
      of: "{n} von {d} {unit} ({pct})",
      u_conversations: "Gesprächen", u_votes: "Stimmen", u_decided: "fälligen ersten Antworten", u_ratings: "Bewertungen",
      deflectionTotal: "{of} bekamen kein Ticket innerhalb von 24 Std.; {pending} weitere sind noch innerhalb von 24 Std.",
      escalationTotal: "{n} Eskalationen bei {d} neuen Tickets ({pct}); davon {w} durch den SLA-Wächter.",
      csatTotal: "{of} waren 4 oder 5; Durchschnitt {avg}.",
      incidentsTotal: "{o} eröffnet, {r} behoben, {l} Gespräche verknüpft ({u} wieder gelöst).",
      period: "{from} – {to} ({tz})",
      historyFrom: "Die gespeicherte Historie beginnt am {date}: Zahlen davor sind unvollständig.",
      noCharts: "Diagramme sind nicht verfügbar (Chart.js fehlt: make install ausführen); die Tabellen zeigen alle Zahlen.",
      more: "… und {n} weitere", unknown: "(unbekannt)", none: "–",
      chartOf: "Diagramm: {title}. Die Tabelle daneben enthält die Zahlen."
    }
  };

  var COLORS = ["#5a2ca0", "#1e7d32", "#b3261e", "#174ea6", "#8a5a00", "#00796b", "#ad1457", "#5b6472"];
  var GREY = "#9aa0a6";
  var TABLE_ROWS = 15;

  function make(lang) {
    var strings = TEXT[lang] || TEXT.en;
    function t(key, vars) {
      var s = strings[key] || TEXT.en[key] || key;
      if (vars) { Object.keys(vars).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); }); }
      return s;
    }
    var locale = lang === "de" ? "de-DE" : "en-GB";
    var pctFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
    function pct(rate) { return rate === null || rate === undefined ? t("none") : pctFormat.format(rate * 100) + " %"; }
    function num(n) { return new Intl.NumberFormat(locale).format(n); }
    function ofText(r, unitKey) {
      return t("of", { n: num(r.numerator), d: num(r.denominator), unit: t(unitKey), pct: pct(r.rate) });
    }
    return { t: t, pct: pct, num: num, ofText: ofText, locale: locale };
  }

  // -- DOM helpers ------------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "className") { node.className = attrs[k]; }
      else if (k.indexOf("on") === 0) { node.addEventListener(k.slice(2), attrs[k]); }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); }
    });
    return node;
  }

  function table(caption, head, rows, foot) {
    var thead = el("thead", null, [el("tr", null, head.map(function (h, i) {
      return el("th", { scope: "col", className: i ? "num" : "", text: h });
    }))]);
    var body = el("tbody", null, rows.map(function (r) {
      return el("tr", null, r.map(function (c, i) {
        return i ? el("td", { className: "num", text: c }) : el("th", { scope: "row", text: c });
      }));
    }));
    var parts = [el("caption", { text: caption }), thead, body];
    if (foot) {
      parts.push(el("tfoot", null, [el("tr", null, foot.map(function (c, i) {
        return i ? el("td", { className: "num", text: c }) : el("th", { scope: "row", text: c });
      }))]));
    }
    return el("table", { className: "grid figures" }, parts);
  }

  // -- labels -----------------------------------------------------------------------------------------
  function bucketLabel(key, unit, f) {
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):00)?$/.exec(key);
    if (!m) { return key; }
    if (unit === "hour") { return m[4] + ":00"; }
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    return d.toLocaleDateString(f.locale, { timeZone: "UTC", weekday: "short", day: "2-digit", month: "2-digit" });
  }

  function keyLabel(key, f) { return key === "(unknown)" ? f.t("unknown") : key; }

  function when(ts, tz, f) {
    var opts = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" };
    try { return new Date(ts * 1000).toLocaleString(f.locale, Object.assign({ timeZone: tz }, opts)); }
    catch (e) { return new Date(ts * 1000).toLocaleString(f.locale, opts); }
  }

  // -- charts -----------------------------------------------------------------------------------------
  function chart(state, box, title, config) {
    var canvas = el("canvas", { role: "img", "aria-label": state.f.t("chartOf", { title: title }) });
    box.appendChild(el("div", { className: "chart-box" }, [canvas]));
    if (!global.Chart) { return null; }
    config.options = Object.assign({
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" } }
    }, config.options || {});
    var made = new global.Chart(canvas, config);
    state.charts.push(made);
    return made;
  }

  function percentAxis() {
    return { min: 0, suggestedMax: 100, ticks: { callback: function (v) { return v + " %"; } } };
  }

  function rates(list) { return list.map(function (r) { return r.rate === null ? null : Math.round(r.rate * 1000) / 10; }); }

  function section(state, name, title, definition, total) {
    var node = el("section", { className: "card figure", "data-figure": name, "aria-labelledby": "fa-" + name }, [
      el("h2", { id: "fa-" + name, text: title }),
      el("p", { className: "total", text: total }),
      el("p", { className: "definition muted", text: definition })
    ]);
    state.root.appendChild(node);
    return node;
  }

  function pair(parent) {
    var left = el("div", { className: "chart-col" });
    var right = el("div", { className: "table-col" });
    parent.appendChild(el("div", { className: "chart-pair" }, [left, right]));
    return [left, right];
  }

  // -- the figures ------------------------------------------------------------------------------------
  function deflection(state) {
    var f = state.f, d = state.data.deflection, tot = d.total;
    var node = section(state, "deflection", f.t("deflection"), f.t("deflectionDef"),
                       f.t("deflectionTotal", { of: f.ofText(tot, "u_conversations"), pending: f.num(tot.pending) }));
    var cols = pair(node);
    chart(state, cols[0], f.t("deflection"), {
      type: "bar",
      data: { labels: state.labels, datasets: [
        { label: f.t("deflected"), data: d.series.map(function (s) { return s.numerator; }), backgroundColor: COLORS[1], stack: "a" },
        { label: f.t("ticketed"), data: d.series.map(function (s) { return s.ticketed; }), backgroundColor: COLORS[2], stack: "a" },
        { label: f.t("pending"), data: d.series.map(function (s) { return s.pending; }), backgroundColor: GREY, stack: "a" }
      ] },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    });
    var head = [state.bucketHead, f.t("answered"), f.t("deflected"), f.t("ticketed"), f.t("pending"), f.t("rate")];
    function row(label, s) { return [label, f.num(s.answered), f.num(s.numerator), f.num(s.ticketed), f.num(s.pending), f.pct(s.rate)]; }
    cols[1].appendChild(table(f.t("deflection"), head, d.series.map(function (s, i) { return row(state.labels[i], s); }),
                              row(f.t("total"), tot)));
  }

  function votes(state) {
    var f = state.f, v = state.data.helped_votes;
    var node = section(state, "helped_votes", f.t("helpedVotes"), f.t("helpedVotesDef"), f.ofText(v.total, "u_votes"));
    var cols = pair(node);
    chart(state, cols[0], f.t("helpedVotes"), {
      type: "bar",
      data: { labels: state.labels, datasets: [
        { label: f.t("helped"), data: v.series.map(function (s) { return s.numerator; }), backgroundColor: COLORS[1], stack: "a" },
        { label: f.t("notHelped"), data: v.series.map(function (s) { return s.denominator - s.numerator; }), backgroundColor: COLORS[2], stack: "a" }
      ] },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    });
    var head = [state.bucketHead, f.t("helped"), f.t("votes"), f.t("rate")];
    function row(label, s) { return [label, f.num(s.numerator), f.num(s.denominator), f.pct(s.rate)]; }
    cols[1].appendChild(table(f.t("helpedVotes"), head, v.series.map(function (s, i) { return row(state.labels[i], s); }),
                              row(f.t("total"), v.total)));
  }

  function signals(state) {
    var f = state.f, s = state.data.signals, kinds = Object.keys(s.total);
    var node = section(state, "signals", f.t("signals"), f.t("signalsDef"),
                       kinds.map(function (k) { return f.t(k) + ": " + f.num(s.total[k]); }).join(" · "));
    var cols = pair(node);
    chart(state, cols[0], f.t("signals"), {
      type: "bar",
      data: { labels: state.labels, datasets: kinds.map(function (k, i) {
        return { label: f.t(k), data: s.series.map(function (b) { return b[k]; }), backgroundColor: COLORS[i % COLORS.length], stack: "a" };
      }) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    });
    var head = [state.bucketHead].concat(kinds.map(function (k) { return f.t(k); }));
    cols[1].appendChild(table(f.t("signals"), head, s.series.map(function (b, i) {
      return [state.labels[i]].concat(kinds.map(function (k) { return f.num(b[k]); }));
    }), [f.t("total")].concat(kinds.map(function (k) { return f.num(s.total[k]); }))));
  }

  function dimensionBlock(state, parent, name, dim, denHead, numHead, chartTitle) {
    var f = state.f;
    var block = el("div", { className: "dimension", "data-dimension": name });
    parent.appendChild(block);
    var cols = pair(block);
    var top = dim.rows.slice(0, 10);
    chart(state, cols[0], chartTitle + " " + f.t(name), {
      type: "bar",
      data: { labels: top.map(function (r) { return keyLabel(r.key, f); }), datasets: [
        { label: f.t("rate"), data: rates(top), backgroundColor: COLORS[0] }
      ] },
      options: { indexAxis: "y", scales: { x: percentAxis() }, plugins: { legend: { display: false } } }
    });
    var shown = dim.rows.slice(0, TABLE_ROWS);
    var rows = shown.map(function (r) {
      return [keyLabel(r.key, f), f.num(r.numerator), f.num(r.denominator), f.pct(r.rate)];
    });
    if (dim.rows.length > shown.length) { rows.push([f.t("more", { n: dim.rows.length - shown.length }), "", "", ""]); }
    cols[1].appendChild(table(chartTitle + " " + f.t(name), [f.t("key"), numHead, denHead, f.t("rate")], rows));
    return block;
  }

  function overTime(state, parent, title, total, dim) {
    var f = state.f;
    // a bucket without a denominator has no rate: a gap in the line, not a line drawn across it
    var datasets = [{ label: f.t("total"), data: rates(total), borderColor: COLORS[0], backgroundColor: COLORS[0],
                      pointRadius: 3 }];
    Object.keys(dim ? dim.series : {}).forEach(function (key, i) {
      var color = COLORS[(i + 1) % COLORS.length];
      datasets.push({ label: keyLabel(key, f), data: rates(dim.series[key]), borderColor: color, backgroundColor: color,
                      borderDash: [4, 3], pointRadius: 3 });
    });
    chart(state, parent, title, { type: "line", data: { labels: state.labels, datasets: datasets },
                                  options: { scales: { y: percentAxis() } } });
  }

  function escalation(state) {
    var f = state.f, e = state.data.escalation, tot = e.total;
    var node = section(state, "escalation", f.t("escalation"), f.t("escalationDef"),
                       f.t("escalationTotal", { n: f.num(tot.numerator), d: f.num(tot.denominator), pct: f.pct(tot.rate),
                                                w: f.num(tot.by_watcher) }));
    var names = ["by_category", "by_tag", "by_article", "by_agent"];
    var select = el("select", { id: "fa-dimension" }, names.map(function (n) {
      return el("option", { value: n, text: f.t(n) });
    }));
    select.value = state.dimension;
    node.appendChild(el("div", { className: "toolbar" }, [el("label", { "for": "fa-dimension", text: f.t("dimension") }), select]));
    var holder = el("div");
    node.appendChild(holder);
    function draw() {
      state.charts = state.charts.filter(function (c) {
        if (holder.contains(c.canvas)) { c.destroy(); return false; }
        return true;
      });
      while (holder.firstChild) { holder.removeChild(holder.firstChild); }
      var name = select.value;
      state.dimension = name;
      var agent = name === "by_agent";
      var box = el("div", { className: "chart-col wide" });
      holder.appendChild(box);
      overTime(state, box, f.t("escalationOverTime") + " " + f.t(name), e.series, e[name]);
      dimensionBlock(state, holder, name, e[name], f.t(agent ? "claimedTickets" : "newTickets"), f.t("escalations"),
                     f.t("escalation"));
    }
    select.addEventListener("change", draw);
    draw();
  }

  function sla(state) {
    var f = state.f, s = state.data.sla_first_response;
    var node = section(state, "sla_first_response", f.t("sla"), f.t("slaDef"), f.ofText(s.total, "u_decided"));
    dimensionBlock(state, node, "by_queue", s.by_queue, f.t("decided"), f.t("met"), f.t("sla"));
    var box = el("div", { className: "chart-col wide" });
    node.appendChild(box);
    overTime(state, box, f.t("slaOverTime"), s.series, s.by_queue);
  }

  function csat(state) {
    var f = state.f, c = state.data.csat, tot = c.total;
    function average(a) { return a === null ? f.t("none") : a.toLocaleString(f.locale, { minimumFractionDigits: 2 }); }
    var avg = average(tot.average);
    var node = section(state, "csat", f.t("csat"), f.t("csatDef"),
                       f.t("csatTotal", { of: f.ofText(tot, "u_ratings"), avg: avg }));
    var cols = pair(node);
    chart(state, cols[0], f.t("csat"), {
      type: "bar",
      data: { labels: ["1", "2", "3", "4", "5"], datasets: [
        { label: f.t("ratings"), data: [1, 2, 3, 4, 5].map(function (k) { return c.distribution[k]; }),
          backgroundColor: [COLORS[2], COLORS[2], GREY, COLORS[1], COLORS[1]] }
      ] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    chart(state, cols[0], f.t("csatAverage"), {
      type: "line",
      data: { labels: state.labels, datasets: [
        { label: f.t("average"), data: c.series.map(function (s) { return s.average; }), borderColor: COLORS[0],
          backgroundColor: COLORS[0], pointRadius: 3 }
      ] },
      options: { scales: { y: { min: 1, max: 5 } } }
    });
    var head = [state.bucketHead, f.t("positive"), f.t("ratings"), f.t("rate"), f.t("average")];
    function row(label, s) {
      return [label, f.num(s.numerator), f.num(s.denominator), f.pct(s.rate), average(s.average)];
    }
    cols[1].appendChild(table(f.t("csat"), head, c.series.map(function (s, i) { return row(state.labels[i], s); }),
                              row(f.t("total"), tot)));
  }

  function incidents(state) {
    var f = state.f, inc = state.data.incidents, tot = inc.total;
    var node = section(state, "incidents", f.t("incidents"), f.t("incidentsDef"),
                       f.t("incidentsTotal", { o: f.num(tot.opened), r: f.num(tot.resolved), l: f.num(tot.linked),
                                               u: f.num(tot.unlinked) }));
    var cols = pair(node);
    var kinds = ["opened", "resolved", "linked", "unlinked"];
    chart(state, cols[0], f.t("incidents"), {
      type: "bar",
      data: { labels: state.labels, datasets: kinds.map(function (k, i) {
        return { label: f.t(k), data: inc.series.map(function (s) { return s[k]; }), backgroundColor: [COLORS[2], COLORS[1], COLORS[3], GREY][i] };
      }) },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    var head = [state.bucketHead].concat(kinds.map(function (k) { return f.t(k); }));
    cols[1].appendChild(table(f.t("incidents"), head, inc.series.map(function (s, i) {
      return [state.labels[i]].concat(kinds.map(function (k) { return f.num(s[k]); }));
    }), [f.t("total")].concat(kinds.map(function (k) { return f.num(tot[k]); }))));
  }

  // -- entry point ------------------------------------------------------------------------------------
  function destroy(root) {
    if (root.faState) { root.faState.charts.forEach(function (c) { c.destroy(); }); root.faState.charts = []; }
    while (root.firstChild) { root.removeChild(root.firstChild); }
  }

  function render(root, data, lang, options) {
    var previous = root.faState ? root.faState.dimension : "by_category";
    destroy(root);
    var f = make(lang);
    var period = data.period;
    var state = {
      root: root, data: data, f: f, charts: [], dimension: (options && options.dimension) || previous,
      labels: period.buckets.map(function (b) { return bucketLabel(b.key, period.unit, f); }),
      bucketHead: f.t("bucket_" + period.unit)
    };
    root.appendChild(el("p", { className: "period", text: f.t("period", {
      from: when(period.start, period.timezone, f), to: when(period.end, period.timezone, f), tz: period.timezone }) }));
    var from = [data.history_from.events, data.history_from.signals].filter(function (x) { return x !== null; });
    if (from.length && Math.max.apply(null, from) > period.start) {
      root.appendChild(el("p", { className: "note", text: f.t("historyFrom", {
        date: when(Math.max.apply(null, from), period.timezone, f) }) }));
    }
    if (!global.Chart) { root.appendChild(el("p", { className: "note", role: "note", text: f.t("noCharts") })); }
    deflection(state);
    votes(state);
    signals(state);
    escalation(state);
    sla(state);
    csat(state);
    incidents(state);
    root.faState = state;  // its charts (tests read them) and the chosen breakdown, kept across re-renders
    return state.charts;
  }

  global.FrontdoorAnalytics = { render: render, destroy: destroy, text: TEXT };
})(window);
