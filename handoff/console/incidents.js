/* Incidents and KB gaps in the agents' console (plain JS, no build step, nothing from the network; every
   text goes into the page with textContent).
   - #/incidents (every agent; leads act): open incidents with their first reports, child tickets and the
     conversations linked by language; leads declare, confirm, rename, merge and resolve (with a message per
     customer language). A banner on the queues view names the open ones.
   - #/gaps (leads): the questions the bot could not answer or whose article did not help, grouped by
     meaning, largest first, with the tickets they became and the articles agents proposed.
   window.FrontdoorIncidents.{renderIncidents, renderBanner, renderGaps}(root, data, ctx); ctx = {lang, lead,
   api(method, path, body) -> Promise, changed(), error(err), notice(text), openTicket(ref), el, clear}. */
(function (global) {
  "use strict";

  var TEXT = {
    en: {
      incidents: "Incidents", kbGaps: "KB gaps", noIncidents: "No open incidents.", showResolved: "Show resolved",
      opened: "opened {time}", reports: "{n} reports", conversations: "{n} conversations linked",
      status_open: "open", status_confirmed: "confirmed", status_resolved: "resolved", status_merged: "merged",
      keys: "Matches", firstReports: "First reports", tickets: "Child tickets", byLanguage: "Linked conversations",
      confirm: "Confirm", rename: "Rename", newTitle: "New title", merge: "Merge into", mergeInto: "Merge into …",
      resolve: "Resolve", resolveHelp: "Every linked conversation is told in its language; the child tickets are resolved. The bot adds your note for that language, if you write one:",
      msg_de: "Note for German customers", msg_en: "Note for English customers", msg_da: "Note for Danish customers",
      resolveTickets: "Also resolve the child tickets", declare: "Declare an incident",
      declareHelp: "An outage you know of before the reports come in: the bot tells matching customers at once.",
      title: "Title", errorCode: "Error code", category: "Category", product: "Product", article: "KB article",
      declared: "Incident {id} declared.", resolvedNotice: "Incident {id} resolved: {n} conversations will be told.",
      confirmedNotice: "Incident {id} confirmed.", renamedNotice: "Incident {id} renamed.",
      mergedNotice: "Incident {id} merged into {into}.", banner: "{n} open incident(s):", bannerItem: "{title} ({n} customers)",
      seeIncidents: "See incidents", partOf: "Part of incident {id}",
      gapsTitle: "KB gaps: what the bot could not answer", gapsSummary: "{q} questions from {c} conversations; {g} groups, largest first.",
      gapConversations: "{n} conversations", notAnswered: "{n} not answered", notHelped: "{n} article did not help",
      articlesNotHelped: "Articles shown that did not help", becameTickets: "Became tickets", drafts: "Articles proposed (drafts)",
      otherDrafts: "Drafts proposed for tickets of no group above", noGaps: "No unanswered questions in this period.",
      periodLabel: "Period", p7d: "7 days", p30d: "30 days", p90d: "90 days", none: "–"
    },
    de: {
      incidents: "Störungen", kbGaps: "Wissenslücken", noIncidents: "Keine offenen Störungen.", showResolved: "Behobene zeigen",
      opened: "eröffnet {time}", reports: "{n} Meldungen", conversations: "{n} Gespräche verknüpft",
      status_open: "offen", status_confirmed: "bestätigt", status_resolved: "behoben", status_merged: "zusammengeführt",
      keys: "Erkennt", firstReports: "Erste Meldungen", tickets: "Zugehörige Tickets", byLanguage: "Verknüpfte Gespräche",
      confirm: "Bestätigen", rename: "Umbenennen", newTitle: "Neuer Titel", merge: "Zusammenführen in", mergeInto: "Zusammenführen in …",
      resolve: "Beheben", resolveHelp: "Jedes verknüpfte Gespräch wird in seiner Sprache informiert; die zugehörigen Tickets werden gelöst. Der Bot fügt Ihre Notiz für diese Sprache an, wenn Sie eine schreiben:",
      msg_de: "Notiz für deutschsprachige Kunden", msg_en: "Notiz für englischsprachige Kunden", msg_da: "Notiz für dänischsprachige Kunden",
      resolveTickets: "Zugehörige Tickets ebenfalls lösen", declare: "Störung melden",
      declareHelp: "Eine Störung, die Sie kennen, bevor die Meldungen kommen: Der Bot informiert passende Kunden sofort.",
      title: "Titel", errorCode: "Fehlercode", category: "Kategorie", product: "Produkt", article: "KB-Artikel",
      declared: "Störung {id} gemeldet.", resolvedNotice: "Störung {id} behoben: {n} Gespräche werden informiert.",
      confirmedNotice: "Störung {id} bestätigt.", renamedNotice: "Störung {id} umbenannt.",
      mergedNotice: "Störung {id} mit {into} zusammengeführt.", banner: "{n} offene Störung(en):", bannerItem: "{title} ({n} Kunden)",
      seeIncidents: "Zu den Störungen", partOf: "Teil der Störung {id}",
      gapsTitle: "Wissenslücken: was der Bot nicht beantworten konnte", gapsSummary: "{q} Fragen aus {c} Gesprächen; {g} Gruppen, größte zuerst.",
      gapConversations: "{n} Gespräche", notAnswered: "{n} ohne Antwort", notHelped: "{n}× Artikel half nicht",
      articlesNotHelped: "Gezeigte Artikel, die nicht halfen", becameTickets: "Wurden zu Tickets", drafts: "Vorgeschlagene Artikel (Entwürfe)",
      otherDrafts: "Entwürfe zu Tickets keiner Gruppe oben", noGaps: "Keine unbeantworteten Fragen in diesem Zeitraum.",
      periodLabel: "Zeitraum", p7d: "7 Tage", p30d: "30 Tage", p90d: "90 Tage", none: "–"
    }
  };

  function t(lang, key, vars) {
    var s = (TEXT[lang] && TEXT[lang][key]) || TEXT.en[key] || key;
    if (vars) { Object.keys(vars).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); }); }
    return s;
  }

  // the console's DOM helpers (console.js hands them over with the context): one copy of each
  var el, clear;
  function use(ctx) { el = ctx.el; clear = ctx.clear; }

  function when(lang, seconds) {
    return new Date(seconds * 1000).toLocaleString(lang === "de" ? "de-DE" : "en-GB",
                                                  { dateStyle: "short", timeStyle: "short" });
  }

  function field(id, label, input) {
    return el("div", { className: "field" }, [el("label", { "for": id, text: label }), input]);
  }

  // -- the banner on the queues view --------------------------------------------------------------
  function renderBanner(node, list, ctx) {
    use(ctx);
    clear(node);
    var open = (list || []).filter(function (i) { return i.status === "open" || i.status === "confirmed"; });
    node.hidden = open.length === 0;
    if (!open.length) { return; }
    node.appendChild(el("strong", { text: t(ctx.lang, "banner", { n: open.length }) + " " }));
    node.appendChild(document.createTextNode(open.map(function (i) {
      return t(ctx.lang, "bannerItem", { title: i.title, n: i.conversations });
    }).join(" · ") + " "));
    node.appendChild(el("a", { href: "#/incidents", text: t(ctx.lang, "seeIncidents") }));
  }

  // -- incidents ----------------------------------------------------------------------------------
  function renderIncidents(root, data, ctx) {
    use(ctx);
    clear(root);
    var lang = ctx.lang;
    var list = data.incidents || [];
    var openOnes = list.filter(function (i) { return i.status === "open" || i.status === "confirmed"; });
    if (!list.length) { root.appendChild(el("p", { className: "muted", text: t(lang, "noIncidents") })); }
    list.forEach(function (incident) { root.appendChild(card(incident, openOnes, ctx)); });
    if (ctx.lead) { root.appendChild(declareForm(ctx)); }
  }

  function card(incident, openOnes, ctx) {
    var lang = ctx.lang;
    var isOpen = incident.status === "open" || incident.status === "confirmed";
    var box = el("article", { className: "incident incident-" + incident.status, "data-incident": incident.id,
                              "aria-labelledby": "inc-title-" + incident.id }, [
      el("h2", { id: "inc-title-" + incident.id }, [
        el("span", { className: "badge status-" + incident.status, text: t(lang, "status_" + incident.status) }), " ",
        incident.id + " – " + incident.title
      ]),
      el("p", { className: "muted", text: [t(lang, "opened", { time: when(lang, incident.opened_at) }),
                                          t(lang, "reports", { n: incident.reports }),
                                          t(lang, "conversations", { n: incident.conversations })].join(" · ") }),
      el("p", null, [el("strong", { text: t(lang, "keys") + ": " }), (incident.keys || []).join(", ")])
    ]);
    var details = el("div", { className: "incident-details" });
    box.appendChild(details);
    if (isOpen || incident.status === "resolved") {
      ctx.api("GET", "/api/v1/agent/incidents/" + encodeURIComponent(incident.id)).then(function (detail) {
        fillDetails(details, detail, ctx);
      }).catch(ctx.error);
    }
    if (ctx.lead && isOpen) { box.appendChild(actions(incident, openOnes, ctx)); }
    return box;
  }

  function fillDetails(node, detail, ctx) {
    var lang = ctx.lang;
    clear(node);
    var langs = detail.conversations_by_language || {};
    node.appendChild(el("p", null, [el("strong", { text: t(lang, "byLanguage") + ": " }),
      Object.keys(langs).map(function (l) { return l.toUpperCase() + " " + langs[l]; }).join(", ") || t(lang, "none")]));
    if ((detail.first_reports || []).length) {
      node.appendChild(el("h3", { text: t(lang, "firstReports") }));
      node.appendChild(el("ul", { className: "first-reports" }, detail.first_reports.map(function (r) {
        return el("li", null, [(r.reference ? r.reference + " · " : "") + (r.language || "").toUpperCase() + " · " +
                               when(lang, r.at) + ": ", el("q", { text: r.text || "" })]);
      })));
    }
    if ((detail.tickets || []).length) {
      node.appendChild(el("h3", { text: t(lang, "tickets") }));
      node.appendChild(el("p", null, detail.tickets.map(function (tk) {
        var link = el("button", { type: "button", className: "link", text: tk.reference + " (" + tk.status + ")" });
        link.addEventListener("click", function () { ctx.openTicket(tk.reference); });
        return el("span", { className: "ticket-chip" }, [link, " "]);
      })));
    }
  }

  function actions(incident, openOnes, ctx) {
    var lang = ctx.lang;
    var id = incident.id;
    var wrap = el("div", { className: "incident-actions" });
    var path = "/api/v1/lead/incidents/" + encodeURIComponent(id);
    if (incident.status === "open") {
      wrap.appendChild(el("button", { type: "button", className: "primary", text: t(lang, "confirm"), onclick: function () {
        ctx.api("POST", path + "/confirm").then(function () { ctx.notice(t(lang, "confirmedNotice", { id: id })); ctx.changed(); })
          .catch(ctx.error);
      } }));
    }
    var title = el("input", { id: "rename-" + id, type: "text", maxlength: "120", value: incident.title });
    wrap.appendChild(el("form", { className: "inline-form", onsubmit: function (ev) {
      ev.preventDefault();
      ctx.api("POST", path + "/rename", { title: title.value }).then(function () {
        ctx.notice(t(lang, "renamedNotice", { id: id })); ctx.changed();
      }).catch(ctx.error);
    } }, [field("rename-" + id, t(lang, "newTitle"), title), el("button", { type: "submit", text: t(lang, "rename") })]));
    var others = openOnes.filter(function (o) { return o.id !== id; });
    if (others.length) {
      var select = el("select", { id: "merge-" + id }, [el("option", { value: "", text: t(lang, "mergeInto") })].concat(
        others.map(function (o) { return el("option", { value: o.id, text: o.id + " – " + o.title }); })));
      wrap.appendChild(el("form", { className: "inline-form", onsubmit: function (ev) {
        ev.preventDefault();
        if (!select.value) { return; }
        var into = select.value;
        ctx.api("POST", path + "/merge", { into: into }).then(function () {
          ctx.notice(t(lang, "mergedNotice", { id: id, into: into })); ctx.changed();
        }).catch(ctx.error);
      } }, [field("merge-" + id, t(lang, "merge"), select), el("button", { type: "submit", text: t(lang, "merge") })]));
    }
    var notes = {};
    var resolveBox = el("input", { id: "resolve-tickets-" + id, type: "checkbox" });
    resolveBox.checked = true;
    var form = el("form", { className: "resolve-incident", onsubmit: function (ev) {
      ev.preventDefault();
      var message = {};
      Object.keys(notes).forEach(function (l) { if (notes[l].value.trim()) { message[l] = notes[l].value.trim(); } });
      ctx.api("POST", path + "/resolve", { message: message, resolve_tickets: resolveBox.checked }).then(function (result) {
        ctx.notice(t(lang, "resolvedNotice", { id: id, n: result.conversations_to_tell })); ctx.changed();
      }).catch(ctx.error);
    } }, [el("p", { className: "muted", text: t(lang, "resolveHelp") })]);
    ["de", "en", "da"].forEach(function (l) {
      notes[l] = el("textarea", { id: "resolve-" + l + "-" + id, rows: "2", maxlength: "1000" });
      form.appendChild(field("resolve-" + l + "-" + id, t(lang, "msg_" + l), notes[l]));
    });
    form.appendChild(el("label", { "for": "resolve-tickets-" + id, className: "inline" },
                        [resolveBox, " " + t(lang, "resolveTickets")]));
    form.appendChild(el("button", { type: "submit", className: "primary", text: t(lang, "resolve") }));
    wrap.appendChild(form);
    return wrap;
  }

  function declareForm(ctx) {
    var lang = ctx.lang;
    var inputs = {};
    var form = el("form", { className: "declare-incident", "aria-labelledby": "declare-heading", onsubmit: function (ev) {
      ev.preventDefault();
      var body = {};
      Object.keys(inputs).forEach(function (k) { if (inputs[k].value.trim()) { body[k] = inputs[k].value.trim(); } });
      ctx.api("POST", "/api/v1/lead/incidents", body).then(function (incident) {
        ctx.notice(t(lang, "declared", { id: incident.id }));
        Object.keys(inputs).forEach(function (k) { inputs[k].value = ""; });
        ctx.changed();
      }).catch(ctx.error);
    } }, [el("h2", { id: "declare-heading", text: t(lang, "declare") }),
          el("p", { className: "muted", text: t(lang, "declareHelp") })]);
    [["title", "title"], ["error_code", "errorCode"], ["category", "category"], ["product", "product"],
     ["article", "article"]].forEach(function (pair) {
      inputs[pair[0]] = el("input", { id: "declare-" + pair[0], type: "text", maxlength: pair[0] === "title" ? "120" : "200" });
      form.appendChild(field("declare-" + pair[0], t(lang, pair[1]), inputs[pair[0]]));
    });
    form.appendChild(el("button", { type: "submit", className: "primary", text: t(lang, "declare") }));
    return form;
  }

  // -- KB gaps ------------------------------------------------------------------------------------
  function renderGaps(root, data, ctx) {
    use(ctx);
    var lang = ctx.lang;
    clear(root);
    var gaps = data.gaps || [];
    root.appendChild(el("p", { className: "muted", text: t(lang, "gapsSummary", {
      q: data.questions, c: data.conversations, g: gaps.length }) }));
    if (!gaps.length) { root.appendChild(el("p", { text: t(lang, "noGaps") })); }
    var list = el("ol", { className: "gaps" });
    gaps.forEach(function (gap) {
      var langs = Object.keys(gap.languages || {}).map(function (l) { return l.toUpperCase() + " " + gap.languages[l]; });
      var item = el("li", { className: "gap" }, [
        el("h2", { text: t(lang, "gapConversations", { n: gap.conversations }) + " · " + langs.join(", ") }),
        el("p", { className: "muted", text: [gap.not_answered ? t(lang, "notAnswered", { n: gap.not_answered }) : null,
                                            gap.not_helped ? t(lang, "notHelped", { n: gap.not_helped }) : null]
          .filter(Boolean).join(" · ") }),
        el("ul", { className: "examples" }, (gap.examples || []).map(function (x) { return el("li", null, [el("q", { text: x })]); }))
      ]);
      var articles = Object.keys(gap.articles_not_helped || {});
      if (articles.length) {
        item.appendChild(el("p", null, [el("strong", { text: t(lang, "articlesNotHelped") + ": " }),
          articles.map(function (a) { return a + " (" + gap.articles_not_helped[a] + ")"; }).join(", ")]));
      }
      if ((gap.tickets || []).length) {
        item.appendChild(el("p", null, [el("strong", { text: t(lang, "becameTickets") + ": " })].concat(
          gap.tickets.slice(0, 20).map(function (ref) {
            var link = el("button", { type: "button", className: "link", text: ref });
            link.addEventListener("click", function () { ctx.openTicket(ref); });
            return el("span", { className: "ticket-chip" }, [link, " "]);
          }))));
      }
      if ((gap.drafts || []).length) {
        item.appendChild(el("p", null, [el("strong", { text: t(lang, "drafts") + ": " }),
          gap.drafts.map(function (d) { return d.title + " (" + d.lang + ", " + d.reference + ") – " + d.path; }).join("; ")]));
      }
      list.appendChild(item);
    });
    root.appendChild(list);
    if ((data.other_drafts || []).length) {
      root.appendChild(el("h2", { text: t(lang, "otherDrafts") }));
      root.appendChild(el("ul", null, data.other_drafts.map(function (d) {
        return el("li", { text: d.title + " (" + d.lang + ", " + d.reference + ") – " + d.path });
      })));
    }
  }

  global.FrontdoorIncidents = { TEXT: TEXT, t: t, renderIncidents: renderIncidents, renderBanner: renderBanner,
                                renderGaps: renderGaps };
})(window);
