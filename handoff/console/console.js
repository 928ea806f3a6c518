/* Agent console for the handoff service: vanilla JS, no build step, talks only to /api/v1/agent/*.
   Everything from the API is put into the page with textContent (never as HTML). */
(function () {
  "use strict";

  var TOKEN_KEY = "fd_agent_token";
  var LANG_KEY = "fd_console_lang";
  var CLAIM_QUEUES_KEY = "fd_claim_queues";
  var SINCE_KEY = "fd_analytics_since";
  var PERIODS = ["24h", "7d", "30d"];
  var POLL_MS = 3000;

  var TEXT = {
    en: {
      skip: "Skip to content", consoleName: "Agent console", language: "Language", shortcuts: "Shortcuts",
      signOut: "Sign out", dismiss: "Dismiss", keyClaim: "Claim the next ticket", keyReply: "Write a reply (ticket view)",
      keyNote: "Write an internal note (ticket view)", keyRefresh: "Refresh now",
      keySubmit: "Send the form you are typing in", keyBack: "Back to the queues", keyHelp: "Show or hide this help",
      signInTitle: "Sign in", signInHelp: "Use your personal agent token (ask your lead, or run `python -m handoff token create`).",
      token: "Agent token", signIn: "Sign in", queues: "Queues", claimNext: "Claim next", claimFrom: "Claim from",
      queue: "Queue", tier: "Tier", depth: "Waiting", oldestWait: "Oldest wait", breaches: "SLA breaches",
      openTickets: "Open tickets", onlyMine: "Only mine", all: "All", status: "Status", reference: "Ticket",
      priority: "Priority", category: "Category", agent: "Agent", firstResponse: "First response",
      noOpenTickets: "No open tickets.", back: "Queues", summary: "Pre-qualified summary", transcript: "Conversation",
      respond: "Respond", replyLabel: "Reply to the customer", sendReply: "Send reply", ctrlEnter: "Ctrl+Enter sends",
      noteLabel: "Internal note (not shown to the customer)", addNote: "Add note", details: "Details", sla: "SLA",
      kbTried: "KB articles already tried", stepsTried: "Steps tried", notes: "Internal notes", actions: "Actions",
      escalate: "Escalate", escalateTo: "To", reasonRequired: "Reason (required)", resolve: "Resolve",
      resolution: "Resolution", proposeKb: "Propose a KB article", kbTitle: "Title",
      kbQuestions: "Customer questions (one per line)", kbBody: "Article text", reasonOptional: "Reason",
      reasonForReopen: "Reason (required to reopen)", release: "Release to queue", reopen: "Reopen", history: "History",
      st_queued: "Waiting", st_escalated: "Escalated", st_claimed: "Claimed", st_waiting_customer: "Waiting for customer",
      st_resolved: "Resolved", st_closed: "Closed",
      customer: "Customer", email: "E-mail", customerTier: "Customer tier", verified: "verified", unverified: "unverified",
      anonymous: "anonymous", product: "Product", errorCode: "Error code", orderNumber: "Order number",
      invoiceNumber: "Invoice number", impact: "Impact", urgency: "Urgency", channel: "Channel", tags: "Tags",
      description: "Customer's description", reasons: "Priority reasons", resolutionText: "Resolution", rating: "Rating",
      firstResponseDue: "First response", resolutionDue: "Resolution", tierDue: "Tier limit", created: "Created",
      claimedAt: "Claimed", met: "met", left: "left", overdue: "overdue by", none: "none", noneTried: "None.",
      noNotes: "No notes yet.", fb_helped: "helped", fb_did_not_help: "did not help", fb_none: "no feedback",
      sender_customer: "Customer", sender_bot: "Bot", sender_agent: "Agent", undelivered: "not delivered to the chat",
      oneTierUp: "One tier up (automatic)", nothingToClaim: "No ticket is waiting in the selected queues.",
      claimed: "Claimed {ref}.", replySent: "Reply sent to the customer.",
      replyNotDelivered: "Saved, but NOT delivered to the chat (the customer may have left). Consider an e-mail.",
      noteAdded: "Note added.", escalated: "Escalated to {queue}.", resolved: "Resolved {ref}.",
      botNotified: "The customer was handed back to the bot.", botNotNotified: "The bot could not be told (the chat may be closed).",
      draftSaved: "KB draft saved: {path}", draftIssues: "An editor still has to fix: {issues}.", released: "Released {ref} to {queue}.", reopened: "Reopened {ref}.",
      required: "Please fill in: {field}.", notOwner: "Claimed by {agent}. Only they or a lead can reply, escalate, resolve or release.",
      unclaimedHint: "Not claimed: use “Claim next” to take it (replies need a claim).",
      youOwn: "You own this ticket.", leadHint: "You are a lead: you may act on any ticket.",
      signedInAs: "{name} ({role})", updatedAt: "updated {time}", liveOff: "offline – retrying",
      tokenInvalid: "The token was not accepted. Check it and try again.", sessionEnded: "Your session ended: sign in again.",
      network: "The handoff service is not reachable ({detail}).", minutes: "min", hours: "h", days: "d", seconds: "s",
      impact_only_me: "only this customer", impact_several: "several customers", impact_everyone: "everyone",
      urgency_low: "can wait", urgency_normal: "normal", urgency_high: "urgent", urgency_critical: "critical",
      by: "by", yes: "yes", no: "no", frustrated: "Frustrated", requestedHuman: "Asked for a human",
      act_created: "created", act_claimed: "claimed", act_reply: "replied", act_note: "internal note",
      act_escalated: "escalated", act_resolved: "resolved", act_reopened: "reopened", act_released: "released",
      act_rated: "rated", act_attached: "conversation attached", act_customer_message: "customer wrote",
      act_sla_warning: "SLA warning", act_sla_breached: "SLA breached", act_tier_limit_exceeded: "tier limit exceeded",
      views: "Views", analytics: "Analytics", periodLabel: "Period", p24h: "24 h", p7d: "7 days", p30d: "30 days",
      loading: "Loading …", analyticsLoaded: "Figures of {time}",
      act_risk_raised: "priority raised: escalation risk",
      risk: "Risk", sortBy: "Sort by", sort_priority: "Priority and deadline", sort_risk: "Escalation risk",
      riskLevel_low: "low", riskLevel_medium: "medium", riskLevel_high: "high",
      riskTitle: "Escalation risk {score} ({level})", riskNone: "no risk signals",
      risk_frustrated: "customer frustrated", risk_repeat_contact: "{value} conversations in 7 days",
      risk_vip: "VIP customer", risk_b2b: "B2B customer", risk_waiting: "{percent} % of the first-response time used",
      risk_resolution_time: "{percent} % of the resolution time used", risk_reopened: "reopened {value}×",
      risk_negative_ratings: "{value} poor rating(s) before", risk_messages: "{value} customer message(s) since the last reply"
    },
    de: {
      skip: "Zum Inhalt springen", consoleName: "Agenten-Konsole", language: "Sprache", shortcuts: "Tastenkürzel",
      signOut: "Abmelden", dismiss: "Schließen", keyClaim: "Nächstes Ticket übernehmen", keyReply: "Antwort schreiben (Ticketansicht)",
      keyNote: "Interne Notiz schreiben (Ticketansicht)", keyRefresh: "Jetzt aktualisieren",
      keySubmit: "Das Formular absenden, in dem Sie schreiben", keyBack: "Zurück zu den Queues", keyHelp: "Diese Hilfe ein-/ausblenden",
      signInTitle: "Anmelden", signInHelp: "Mit Ihrem persönlichen Agenten-Token (von Ihrer Teamleitung oder mit `python -m handoff token create`).",
      token: "Agenten-Token", signIn: "Anmelden", queues: "Queues", claimNext: "Nächstes übernehmen", claimFrom: "Übernehmen aus",
      queue: "Queue", tier: "Stufe", depth: "Wartend", oldestWait: "Längste Wartezeit", breaches: "SLA-Verletzungen",
      openTickets: "Offene Tickets", onlyMine: "Nur meine", all: "Alle", status: "Status", reference: "Ticket",
      priority: "Priorität", category: "Kategorie", agent: "Agent", firstResponse: "Erste Antwort",
      noOpenTickets: "Keine offenen Tickets.", back: "Queues", summary: "Vorqualifizierte Zusammenfassung", transcript: "Gesprächsverlauf",
      respond: "Antworten", replyLabel: "Antwort an den Kunden", sendReply: "Antwort senden", ctrlEnter: "Strg+Enter sendet",
      noteLabel: "Interne Notiz (für den Kunden unsichtbar)", addNote: "Notiz hinzufügen", details: "Angaben", sla: "SLA",
      kbTried: "Bereits gezeigte KB-Artikel", stepsTried: "Bereits versucht", notes: "Interne Notizen", actions: "Aktionen",
      escalate: "Eskalieren", escalateTo: "Nach", reasonRequired: "Begründung (Pflicht)", resolve: "Lösen",
      resolution: "Lösung", proposeKb: "KB-Artikel vorschlagen", kbTitle: "Titel",
      kbQuestions: "Kundenfragen (eine pro Zeile)", kbBody: "Artikeltext", reasonOptional: "Begründung",
      reasonForReopen: "Begründung (Pflicht zum Wiedereröffnen)", release: "In die Queue zurückgeben", reopen: "Wiedereröffnen", history: "Verlauf",
      st_queued: "Wartend", st_escalated: "Eskaliert", st_claimed: "Übernommen", st_waiting_customer: "Wartet auf Kunden",
      st_resolved: "Gelöst", st_closed: "Geschlossen",
      customer: "Kunde", email: "E-Mail", customerTier: "Kundenstufe", verified: "verifiziert", unverified: "nicht verifiziert",
      anonymous: "anonym", product: "Produkt", errorCode: "Fehlercode", orderNumber: "Bestellnummer",
      invoiceNumber: "Rechnungsnummer", impact: "Betroffen", urgency: "Dringlichkeit", channel: "Kanal", tags: "Tags",
      description: "Beschreibung des Kunden", reasons: "Gründe der Priorität", resolutionText: "Lösung", rating: "Bewertung",
      firstResponseDue: "Erste Antwort", resolutionDue: "Lösung", tierDue: "Stufenlimit", created: "Erstellt",
      claimedAt: "Übernommen", met: "eingehalten", left: "übrig", overdue: "überfällig seit", none: "keine", noneTried: "Keine.",
      noNotes: "Noch keine Notizen.", fb_helped: "hat geholfen", fb_did_not_help: "hat nicht geholfen", fb_none: "keine Rückmeldung",
      sender_customer: "Kunde", sender_bot: "Bot", sender_agent: "Agent", undelivered: "nicht im Chat zugestellt",
      oneTierUp: "Eine Stufe höher (automatisch)", nothingToClaim: "In den gewählten Queues wartet kein Ticket.",
      claimed: "{ref} übernommen.", replySent: "Antwort an den Kunden gesendet.",
      replyNotDelivered: "Gespeichert, aber NICHT im Chat zugestellt (der Kunde ist evtl. weg). Ggf. per E-Mail antworten.",
      noteAdded: "Notiz hinzugefügt.", escalated: "Nach {queue} eskaliert.", resolved: "{ref} gelöst.",
      botNotified: "Der Kunde wurde an den Bot zurückgegeben.", botNotNotified: "Der Bot konnte nicht benachrichtigt werden (Chat evtl. geschlossen).",
      draftSaved: "KB-Entwurf gespeichert: {path}", draftIssues: "Für die Redaktion noch offen: {issues}.", released: "{ref} an {queue} zurückgegeben.", reopened: "{ref} wiedereröffnet.",
      required: "Bitte ausfüllen: {field}.", notOwner: "Übernommen von {agent}. Nur diese Person oder eine Teamleitung kann antworten, eskalieren, lösen oder zurückgeben.",
      unclaimedHint: "Nicht übernommen: mit „Nächstes übernehmen“ übernehmen (Antworten setzen das voraus).",
      youOwn: "Sie bearbeiten dieses Ticket.", leadHint: "Sie sind Teamleitung: Sie dürfen jedes Ticket bearbeiten.",
      signedInAs: "{name} ({role})", updatedAt: "aktualisiert {time}", liveOff: "offline – neuer Versuch läuft",
      tokenInvalid: "Das Token wurde nicht akzeptiert. Bitte prüfen und erneut versuchen.", sessionEnded: "Ihre Sitzung ist abgelaufen: bitte neu anmelden.",
      network: "Der Handoff-Dienst ist nicht erreichbar ({detail}).", minutes: "Min.", hours: "Std.", days: "T.", seconds: "s",
      impact_only_me: "nur dieser Kunde", impact_several: "mehrere Kunden", impact_everyone: "alle",
      urgency_low: "kann warten", urgency_normal: "normal", urgency_high: "dringend", urgency_critical: "sehr dringend",
      by: "von", yes: "ja", no: "nein", frustrated: "Verärgert", requestedHuman: "Wollte einen Menschen",
      act_created: "erstellt", act_claimed: "übernommen", act_reply: "beantwortet", act_note: "interne Notiz",
      act_escalated: "eskaliert", act_resolved: "gelöst", act_reopened: "wiedereröffnet", act_released: "zurückgegeben",
      act_rated: "bewertet", act_attached: "Gespräch angehängt", act_customer_message: "Kunde schrieb",
      act_sla_warning: "SLA-Warnung", act_sla_breached: "SLA verletzt", act_tier_limit_exceeded: "Stufenlimit überschritten",
      views: "Ansichten", analytics: "Analysen", periodLabel: "Zeitraum", p24h: "24 Std.", p7d: "7 Tage", p30d: "30 Tage",
      loading: "Wird geladen …", analyticsLoaded: "Zahlen von {time}",
      act_risk_raised: "Priorität erhöht: Eskalationsrisiko",
      risk: "Risiko", sortBy: "Sortieren nach", sort_priority: "Priorität und Frist", sort_risk: "Eskalationsrisiko",
      riskLevel_low: "niedrig", riskLevel_medium: "mittel", riskLevel_high: "hoch",
      riskTitle: "Eskalationsrisiko {score} ({level})", riskNone: "keine Risikosignale",
      risk_frustrated: "Kunde verärgert", risk_repeat_contact: "{value} Gespräche in 7 Tagen",
      risk_vip: "VIP-Kunde", risk_b2b: "B2B-Kunde", risk_waiting: "{percent} % der Zeit bis zur ersten Antwort verbraucht",
      risk_resolution_time: "{percent} % der Lösungszeit verbraucht", risk_reopened: "{value}× wiedereröffnet",
      risk_negative_ratings: "{value} schlechte Bewertung(en) zuvor", risk_messages: "{value} Kundennachricht(en) seit der letzten Antwort"
    }
  };

  // -- state ---------------------------------------------------------------------------------------
  var state = {
    lang: pickLang(), token: sessionStorage.getItem(TOKEN_KEY) || "", me: null, queues: [], ticket: null,
    view: "", pollTimer: null, polling: false, claimQueues: loadClaimQueues(),
    since: PERIODS.indexOf(sessionStorage.getItem(SINCE_KEY)) >= 0 ? sessionStorage.getItem(SINCE_KEY) : "7d",
    analytics: null
  };

  function pickLang() {
    var stored = localStorage.getItem(LANG_KEY);
    if (stored && TEXT[stored]) { return stored; }
    var langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
    for (var i = 0; i < langs.length; i++) {
      var code = String(langs[i]).slice(0, 2).toLowerCase();
      if (TEXT[code]) { return code; }
    }
    return "en";
  }

  function loadClaimQueues() {
    try { var v = JSON.parse(localStorage.getItem(CLAIM_QUEUES_KEY) || "null"); return Array.isArray(v) ? v : null; }
    catch (e) { return null; }
  }

  function t(key, vars) {
    var own = (TEXT[state.lang] && TEXT[state.lang][key]) || TEXT.en[key];
    if (own === undefined && window.FrontdoorIncidents) { return window.FrontdoorIncidents.t(state.lang, key, vars); }
    var s = own || key;
    if (vars) { Object.keys(vars).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); }); }
    return s;
  }

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") { node.textContent = attrs[k]; }
        else if (k === "className") { node.className = attrs[k]; }
        else if (k.indexOf("on") === 0) { node.addEventListener(k.slice(2), attrs[k]); }
        else { node.setAttribute(k, attrs[k]); }
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) { return; }
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // -- i18n ----------------------------------------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = state.lang;
    $("ui-lang").value = state.lang;
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-label]").forEach(function (node) {
      node.setAttribute("aria-label", t(node.getAttribute("data-i18n-label")));
    });
    document.title = "Streamly – " + t("consoleName");
    renderWho();
    if (state.view === "queues") { renderQueues(); renderTickets(state.lastTickets || []); }
    if (state.view === "ticket" && state.ticket) { renderTicket(state.ticket); }
    if (state.view === "analytics" && state.analytics) { renderAnalytics(); }
    if (state.view === "incidents" && state.incidents) {
      window.FrontdoorIncidents.renderIncidents($("incidents-root"), state.incidents, incidentCtx());
    }
    if (state.view === "gaps" && state.gaps) { window.FrontdoorIncidents.renderGaps($("gaps-root"), state.gaps, incidentCtx()); }
  }

  // -- time formatting -----------------------------------------------------------------------------
  function duration(seconds) {
    var s = Math.abs(Math.round(seconds));
    if (s < 60) { return s + " " + t("seconds"); }
    var m = Math.round(s / 60);
    if (m < 60) { return m + " " + t("minutes"); }
    var h = Math.floor(m / 60);
    if (h < 48) { return h + " " + t("hours") + " " + (m % 60) + " " + t("minutes"); }
    return Math.floor(h / 24) + " " + t("days") + " " + (h % 24) + " " + t("hours");
  }

  function clock(ts) {
    if (!ts) { return ""; }
    var d = new Date(ts * 1000);
    var now = new Date();
    var opts = { hour: "2-digit", minute: "2-digit" };
    if (d.toDateString() !== now.toDateString()) { opts.day = "2-digit"; opts.month = "2-digit"; }
    return d.toLocaleString(state.lang === "de" ? "de-DE" : "en-GB", opts);
  }

  function nowSec() { return Date.now() / 1000; }

  // -- messages ------------------------------------------------------------------------------------
  function showError(message) {
    $("alert-text").textContent = message;
    $("alert").hidden = false;
  }

  function hideError() { $("alert").hidden = true; $("alert-text").textContent = ""; }

  var noticeTimer = null;
  function notice(message) {
    $("notice").textContent = message;
    $("notice").hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { $("notice").hidden = true; }, Math.max(6000, message.length * 80));
  }

  function errorText(err) {
    if (err && err.api) { return err.code + ": " + err.detail + " (HTTP " + err.status + ")"; }
    return t("network", { detail: (err && err.message) || String(err) });
  }

  function setStatus(id, message, ok) {
    var node = $(id);
    node.textContent = message || "";
    node.className = "form-status" + (message ? (ok ? " ok" : " err") : "");
  }

  // -- API -----------------------------------------------------------------------------------------
  function api(method, path, body) {
    var opts = { method: method, headers: { "Authorization": "Bearer " + state.token, "Accept": "application/json" },
                 cache: "no-store" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var err = new Error((data && data.detail) || response.statusText);
          err.api = true; err.status = response.status;
          err.code = (data && data.error) || "http_" + response.status;
          err.detail = (data && data.detail) || response.statusText || raw.slice(0, 200);
          if (response.status === 401 && state.me) { signOut(t("sessionEnded")); }
          throw err;
        }
        return data;
      });
    });
  }

  // -- sign in / out -------------------------------------------------------------------------------
  function renderWho() {
    $("who").textContent = state.me ? t("signedInAs", { name: state.me.name, role: state.me.role }) : "";
    $("signout").hidden = !state.me;
    $("views").hidden = !state.me;
    $("nav-analytics").hidden = !isLead();  // analytics and KB gaps are the leads'
    $("nav-gaps").hidden = !isLead();
  }

  function isLead() { return !!(state.me && state.me.role === "lead"); }

  function signIn(token) {
    state.token = token;
    return api("GET", "/api/v1/agent/me").then(function (me) {
      state.me = me;
      sessionStorage.setItem(TOKEN_KEY, token);
      renderWho();
      hideError();
      route();
      startPolling();
    });
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = ""; state.me = null; state.ticket = null; state.analytics = null;
    stopPolling();
    renderWho();
    show("signin");
    if (message) { $("signin-error").textContent = message; }
    $("token").value = "";
    $("token").focus();
  }

  // -- views and routing (#/ = queues, #/ticket/T-000123, #/analytics for leads) -----------------------------
  function show(view) {
    state.view = view;
    $("view-signin").hidden = view !== "signin";
    $("view-queues").hidden = view !== "queues";
    $("view-ticket").hidden = view !== "ticket";
    $("view-analytics").hidden = view !== "analytics";
    $("view-incidents").hidden = view !== "incidents";
    $("view-gaps").hidden = view !== "gaps";
    ["queues", "analytics", "incidents", "gaps"].forEach(function (name) {
      $("nav-" + name).setAttribute("aria-current", view === name ? "page" : "false");
    });
  }

  function currentRef() {
    var m = /^#\/ticket\/([A-Za-z0-9-]+)$/.exec(location.hash);
    return m ? m[1] : null;
  }

  function route() {
    if (!state.me) { show("signin"); return; }
    if (location.hash === "#/incidents" || location.hash === "#/gaps") {
      if (location.hash === "#/gaps" && !isLead()) { location.hash = "#/"; return; }
      saveDraft();
      state.ticket = null;
      show(location.hash.slice(2));
      (state.view === "gaps" ? loadGaps : loadIncidents)();
      return;
    }
    if (location.hash === "#/analytics") {
      if (!isLead()) { location.hash = "#/"; return; }
      saveDraft();
      state.ticket = null;
      show("analytics");
      loadAnalytics();
      return;
    }
    var ref = currentRef();
    if (ref) {
      var switching = !state.ticket || state.ticket.reference !== ref;
      show("ticket");
      if (switching) {
        saveDraft();
        state.ticket = null;
        resetForms();
        restoreDraft(ref);
        $("ticket-title").textContent = ref;
      }
      loadTicket(ref, switching).catch(function (err) { showError(errorText(err)); });
    } else {
      saveDraft();
      show("queues");
      state.ticket = null;
      refreshQueues().catch(function (err) { showError(errorText(err)); });
    }
  }

  function openTicket(ref) {
    if (location.hash === "#/ticket/" + ref) { route(); } else { location.hash = "#/ticket/" + ref; }
  }

  function backToQueues() {
    if (location.hash && location.hash !== "#/") { location.hash = "#/"; } else { route(); }
  }

  // -- queues and ticket list ----------------------------------------------------------------------
  function refreshQueues() {
    var params = [];
    if ($("filter-mine").checked) { params.push("mine=1"); }
    if ($("filter-queue").value) { params.push("queue=" + encodeURIComponent($("filter-queue").value)); }
    if ($("filter-status").value) { params.push("status=" + encodeURIComponent($("filter-status").value)); }
    if ($("filter-sort").value === "risk") { params.push("sort=risk"); }
    return Promise.all([
      api("GET", "/api/v1/agent/queues"),
      api("GET", "/api/v1/agent/tickets" + (params.length ? "?" + params.join("&") : "")),
      api("GET", "/api/v1/agent/incidents")
    ]).then(function (results) {
      state.queues = results[0].queues || [];
      state.lastTickets = results[1].tickets || [];
      state.openIncidents = results[2].incidents || [];
      fillQueueSelects();
      if (state.view === "queues") {
        renderQueues();
        renderTickets(state.lastTickets);
        window.FrontdoorIncidents.renderBanner($("incident-banner"), state.openIncidents, incidentCtx());
      }
      markLive(true);
    });
  }

  function fillQueueSelects() {
    var filter = $("filter-queue");
    var names = state.queues.map(function (q) { return q.queue; });
    var existing = Array.prototype.slice.call(filter.options, 1).map(function (o) { return o.value; });
    if (existing.join() !== names.join()) {
      var chosen = filter.value;
      while (filter.options.length > 1) { filter.remove(1); }
      names.forEach(function (n) { filter.appendChild(el("option", { value: n, text: n })); });
      filter.value = names.indexOf(chosen) >= 0 ? chosen : "";
    }
  }

  function claimSet() {
    if (!state.claimQueues) { return null; }  // all queues
    return state.claimQueues;
  }

  function renderQueues() {
    var body = $("queue-rows");
    clear(body);
    var chosen = claimSet();
    state.queues.forEach(function (q) {
      var id = "claim-" + q.queue;
      var box = el("input", { type: "checkbox", id: id, "data-queue": q.queue });
      box.checked = !chosen || chosen.indexOf(q.queue) >= 0;
      box.addEventListener("change", onClaimQueueToggle);
      var row = el("tr", { className: q.sla_breaches ? "breach" : "", "data-queue": q.queue }, [
        el("td", null, [el("label", { "for": id, className: "inline" }, [box, el("span", { className: "sr-only", text: q.queue })])]),
        el("td", null, [el("strong", { text: q.queue }), " ", el("span", { className: "queue-desc", text: q.description || "" })]),
        el("td", { text: String(q.tier) }),
        el("td", { className: "num", text: String(q.depth) }),
        el("td", { className: "num", text: q.depth ? duration(q.oldest_wait_seconds) : "–" }),
        el("td", { className: "num" + (q.sla_breaches ? " bad" : ""), text: String(q.sla_breaches) })
      ]);
      body.appendChild(row);
    });
    $("updated").textContent = t("updatedAt", { time: new Date().toLocaleTimeString(state.lang === "de" ? "de-DE" : "en-GB") });
  }

  function onClaimQueueToggle() {
    var boxes = document.querySelectorAll("#queue-rows input[type=checkbox]");
    var chosen = [];
    boxes.forEach(function (b) { if (b.checked) { chosen.push(b.getAttribute("data-queue")); } });
    state.claimQueues = chosen.length === boxes.length ? null : chosen;
    if (state.claimQueues) { localStorage.setItem(CLAIM_QUEUES_KEY, JSON.stringify(chosen)); }
    else { localStorage.removeItem(CLAIM_QUEUES_KEY); }
  }

  function priorityBadge(p) { return el("span", { className: "badge " + p, text: p }); }

  // the escalation risk of a row: a flag for high risk, the score otherwise; the reasons in the tooltip
  function riskText(reason) {
    return t("risk_" + reason.code, { value: reason.value, percent: Math.round(reason.value * 100) });
  }

  function riskBadge(risk) {
    if (!risk) { return el("span", { className: "muted", text: "–" }); }
    var reasons = (risk.reasons || []).map(riskText);
    var title = t("riskTitle", { score: risk.score, level: t("riskLevel_" + risk.level) }) + ": " +
      (reasons.length ? reasons.join("; ") : t("riskNone"));
    var text = (risk.level === "high" ? "⚑ " : "") + risk.score;
    return el("span", { className: "badge risk-" + risk.level, text: text, title: title, "aria-label": title });
  }
  function statusBadge(s) { return el("span", { className: "badge status-" + s, text: t("st_" + s) }); }

  function dueText(due, doneAt) {
    if (doneAt) { return { text: t("met"), cls: "met" }; }
    if (!due) { return { text: "–", cls: "" }; }
    var left = due - nowSec();
    if (left < 0) { return { text: t("overdue") + " " + duration(-left), cls: "late" }; }
    return { text: duration(left) + " " + t("left"), cls: "" };
  }

  function renderTickets(rows) {
    var body = $("ticket-rows");
    clear(body);
    $("no-tickets").hidden = rows.length > 0;
    rows.forEach(function (r) {
      var due = dueText(r.first_response_due, null);
      var open = el("button", { type: "button", className: "link", text: r.reference,
                                "aria-label": r.reference + " " + t("st_" + r.status) });
      open.addEventListener("click", function () { openTicket(r.reference); });
      body.appendChild(el("tr", { "data-ref": r.reference }, [
        el("td", null, [open]),
        el("td", null, [priorityBadge(r.priority)]),
        el("td", { className: "num" }, [riskBadge(r.risk)]),
        el("td", null, [statusBadge(r.status)]),
        el("td", { text: r.queue + " (" + r.tier + ")" }),
        el("td", { text: r.category || "" }),
        el("td", { text: (r.language || "").toUpperCase() }),
        el("td", { text: r.agent || "–" }),
        el("td", { className: due.cls === "late" ? "bad" : "", text: due.text })
      ]));
    });
  }

  // -- incidents (every agent, leads act) and KB gaps (leads): handoff/console/incidents.js --------------
  function incidentCtx() {
    return { lang: state.lang, lead: isLead(), api: api, error: function (err) { showError(errorText(err)); },
             notice: notice, openTicket: openTicket, changed: function () { loadIncidents(); }, el: el, clear: clear };
  }

  function loadIncidents() {
    var status = $("incidents-resolved").checked ? "all" : "open";
    return api("GET", "/api/v1/agent/incidents?status=" + status).then(function (data) {
      if (state.view !== "incidents") { return; }
      state.incidents = data;
      window.FrontdoorIncidents.renderIncidents($("incidents-root"), data, incidentCtx());
      hideError();
      markLive(true);
    }).catch(function (err) { showError(errorText(err)); });
  }

  function loadGaps() {
    var since = state.gapsSince || "30d";
    document.querySelectorAll("[data-gaps-since]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-gaps-since") === since ? "true" : "false");
    });
    return api("GET", "/api/v1/lead/kb-gaps?since=" + encodeURIComponent(since)).then(function (data) {
      if (state.view !== "gaps") { return; }
      state.gaps = data;
      window.FrontdoorIncidents.renderGaps($("gaps-root"), data, incidentCtx());
      hideError();
      markLive(true);
    }).catch(function (err) { showError(errorText(err)); });
  }

  // -- analytics (leads) -------------------------------------------------------------------------------
  function loadAnalytics() {
    var since = state.since;
    document.querySelectorAll(".period-switch button").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-since") === since ? "true" : "false");
    });
    $("analytics-status").textContent = t("loading");
    return api("GET", "/api/v1/lead/analytics?since=" + encodeURIComponent(since)).then(function (data) {
      if (state.view !== "analytics" || state.since !== since) { return; }
      state.analytics = data;
      renderAnalytics();
      hideError();
      markLive(true);
    }).catch(function (err) {
      $("analytics-status").textContent = "";
      showError(errorText(err));
    });
  }

  function renderAnalytics() {
    var data = state.analytics;
    if (!window.FrontdoorAnalytics) { return; }
    window.FrontdoorAnalytics.render($("analytics-root"), data, state.lang);
    $("analytics-status").textContent = t("analyticsLoaded", { time: clock(data.period.end) });
  }

  function onPeriod(ev) {
    var since = ev.currentTarget.getAttribute("data-since");
    if (PERIODS.indexOf(since) < 0) { return; }
    state.since = since;
    sessionStorage.setItem(SINCE_KEY, since);
    loadAnalytics();
  }

  // -- claim ---------------------------------------------------------------------------------------
  var claiming = false;
  function claimNext() {
    if (!state.me || claiming) { return; }
    claiming = true;
    $("claim-next").disabled = true;
    var chosen = claimSet();
    api("POST", "/api/v1/agent/claim", chosen ? { queues: chosen } : {}).then(function (data) {
      if (!data || !data.ticket) { notice(t("nothingToClaim")); refreshQueues(); return; }
      hideError();
      notice(t("claimed", { ref: data.ticket.reference }));
      saveDraft();
      state.ticket = data.ticket;
      resetForms();
      show("ticket");
      renderTicket(data.ticket);  // at once: the claim answer is the whole ticket
      $("main").focus();
      if (location.hash !== "#/ticket/" + data.ticket.reference) { location.hash = "#/ticket/" + data.ticket.reference; }
    }).catch(function (err) { showError(errorText(err)); }).then(function () {
      claiming = false;
      $("claim-next").disabled = false;
    });
  }

  // -- one ticket ----------------------------------------------------------------------------------
  function fillCategories(tk) {
    var cat = $("kb-category");
    var categories = state.categories || [];
    var names = categories.map(function (c) { return c.name; });
    if (cat.options.length !== names.length || cat.getAttribute("data-lang") !== state.lang) {
      var keep = cat.value;
      clear(cat);
      cat.setAttribute("data-lang", state.lang);
      categories.forEach(function (c) {
        cat.appendChild(el("option", { value: c.name, text: (c.labels && c.labels[state.lang]) || c.name }));
      });
      if (keep) { cat.value = keep; }
    }
    if (!$("propose").checked && names.length) {
      cat.value = names.indexOf(tk.category) >= 0 ? tk.category : (names.indexOf("general") >= 0 ? "general" : names[0]);
      $("kb-lang").value = ["de", "en", "da"].indexOf(tk.language) >= 0 ? tk.language : "en";
    }
  }

  // the escalation matrix's categories (with labels), from the handoff service: never a copy kept here
  function loadTaxonomy() {
    if (state.categories) { return Promise.resolve(state.categories); }
    return api("GET", "/api/v1/agent/taxonomy").then(function (data) {
      state.categories = data.categories || [];
      return state.categories;
    });
  }

  function loadTicket(ref, focusSummary) {
    return Promise.all([
      api("GET", "/api/v1/agent/tickets/" + encodeURIComponent(ref)), loadTaxonomy()
    ]).then(function (results) {
      var ticket = results[0];
      if (currentRef() !== ref) { return; }
      state.ticket = ticket;
      renderTicket(ticket);
      markLive(true);
      if (focusSummary) { $("main").focus(); }
    }).catch(function (err) {
      if (err.api && err.status === 404) { showError(errorText(err)); backToQueues(); return; }
      throw err;
    });
  }

  // unsent replies and notes survive a trip to the queue list (per ticket, in this tab only)
  var drafts = {};
  function saveDraft() {
    if (!state.ticket) { return; }
    var draft = { reply: $("reply-text").value, note: $("note-text").value };
    if (draft.reply || draft.note) { drafts[state.ticket.reference] = draft; }
    else { delete drafts[state.ticket.reference]; }
  }

  function restoreDraft(ref) {
    var draft = drafts[ref];
    if (draft) { $("reply-text").value = draft.reply; $("note-text").value = draft.note; }
  }

  function resetForms() {
    ["reply-text", "note-text", "escalate-reason", "resolve-text", "kb-title-input", "kb-questions", "kb-body",
     "state-reason"].forEach(function (id) { $(id).value = ""; });
    ["reply-status", "note-status", "escalate-status", "resolve-status", "state-status"].forEach(function (id) { setStatus(id, ""); });
    $("propose").checked = false;
    $("propose-fields").hidden = true;
    $("escalate-box").open = false;
    $("resolve-box").open = false;
  }

  function field(dl, label, value, cls) {
    if (value === undefined || value === null || value === "") { return; }
    dl.appendChild(el("dt", { text: label }));
    dl.appendChild(el("dd", { className: cls || "", text: String(value) }));
  }

  function isOpen(ticket) { return ["queued", "claimed", "waiting_customer", "escalated"].indexOf(ticket.status) >= 0; }
  function isMine(ticket) { return state.me && ticket.agent === state.me.name; }
  function canAct(ticket) { return state.me && (state.me.role === "lead" || isMine(ticket)); }

  function renderTicket(tk) {
    $("ticket-title").textContent = tk.reference;
    var badges = $("ticket-badges");
    clear(badges);
    badges.appendChild(priorityBadge(tk.priority));
    badges.appendChild(statusBadge(tk.status));
    badges.appendChild(el("span", { className: "badge", text: t("queue") + ": " + tk.queue + " · " + t("tier") + " " + tk.tier }));
    if (tk.agent) { badges.appendChild(el("span", { className: "badge", text: t("agent") + ": " + tk.agent })); }
    if (tk.incident) {  // part of an incident: its page says who else has it and what the lead decided
      badges.appendChild(el("a", { className: "badge incident-badge", href: "#/incidents",
                                   text: t("partOf", { id: tk.incident }) }));
    }
    var frd = dueText(tk.first_response_due, tk.first_response_at);
    if (frd.cls === "late") { badges.appendChild(el("span", { className: "badge late", text: "SLA " + frd.text })); }

    $("t-summary").textContent = tk.summary || "";

    // fields
    var dl = $("t-fields");
    clear(dl);
    var c = tk.customer || {};
    field(dl, t("customer"), (c.name || t("anonymous")) + " · " + (c.verified ? t("verified") : t("unverified")));
    field(dl, t("email"), c.email);
    field(dl, t("customerTier"), c.tier);
    field(dl, t("language"), (tk.language || "").toUpperCase());
    field(dl, t("category"), tk.category);
    field(dl, t("product"), tk.product);
    field(dl, t("errorCode"), tk.error_code);
    field(dl, t("orderNumber"), tk.order_number);
    field(dl, t("invoiceNumber"), tk.invoice_number);
    field(dl, t("impact"), tk.impact ? t("impact_" + tk.impact) : "");
    field(dl, t("urgency"), tk.urgency ? t("urgency_" + tk.urgency) : "");
    field(dl, t("priority"), tk.priority);
    field(dl, t("reasons"), (tk.priority_reasons || []).join("; "));
    field(dl, t("queue"), tk.queue);
    field(dl, t("tier"), tk.tier);
    field(dl, t("status"), t("st_" + tk.status));
    field(dl, t("agent"), tk.agent);
    field(dl, t("channel"), (tk.channels || []).map(function (ch) { return ch.channel; })
      .filter(function (ch, i, all) { return all.indexOf(ch) === i; }).join(", "));
    field(dl, t("tags"), (tk.tags || []).join(", "));
    if (tk.risk) {  // the escalation risk and why (the same words as the queue's tooltip)
      var riskReasons = (tk.risk.reasons || []).map(riskText);
      field(dl, t("risk"), t("riskTitle", { score: tk.risk.score, level: t("riskLevel_" + tk.risk.level) }) + ": " +
        (riskReasons.length ? riskReasons.join("; ") : t("riskNone")), tk.risk.level === "high" ? "late" : undefined);
    }
    if (tk.frustrated) { field(dl, t("frustrated"), t("yes"), "late"); }
    if (tk.requested_human) { field(dl, t("requestedHuman"), t("yes")); }
    field(dl, t("description"), tk.description);
    field(dl, t("resolutionText"), tk.resolution);
    field(dl, t("rating"), tk.rating ? tk.rating + " / 5" : "");

    // SLA
    var sla = $("t-sla");
    clear(sla);
    field(sla, t("created"), clock(tk.created_at));
    if (tk.claimed_at) { field(sla, t("claimedAt"), clock(tk.claimed_at)); }
    var fr = dueText(tk.first_response_due, tk.first_response_at);
    field(sla, t("firstResponseDue"), clock(tk.first_response_due) + " – " + fr.text, fr.cls);
    var closed = tk.status === "resolved" || tk.status === "closed";
    var rd = dueText(tk.resolution_due, closed ? (tk.resolved_at || 1) : null);
    field(sla, t("resolutionDue"), clock(tk.resolution_due) + " – " + rd.text, rd.cls);
    if (tk.tier_due && !closed) {
      var td = dueText(tk.tier_due, null);
      field(sla, t("tierDue"), clock(tk.tier_due) + " – " + td.text, td.cls);
    }

    // KB articles and steps
    var kb = $("t-kb");
    clear(kb);
    (tk.articles_shown || []).forEach(function (a) {
      kb.appendChild(el("li", null, [
        el("strong", { text: a.title || a.id }), " ",
        el("span", { className: "muted", text: "(" + a.id + ", " + (a.lang || "").toUpperCase() + ") " }),
        el("span", { className: "fb-" + a.feedback, text: "– " + t("fb_" + a.feedback) })
      ]));
    });
    if (!kb.firstChild) { kb.appendChild(el("li", { className: "muted", text: t("noneTried") })); }
    var steps = $("t-steps");
    clear(steps);
    (tk.steps_tried || []).forEach(function (s) { steps.appendChild(el("li", { text: "• " + s })); });
    if (!steps.firstChild) { steps.appendChild(el("li", { className: "muted", text: t("noneTried") })); }

    renderTranscript(tk);

    // notes
    var notes = $("t-notes");
    clear(notes);
    (tk.notes || []).forEach(function (n) {
      notes.appendChild(el("li", null, [el("span", { className: "meta", text: n.agent + " · " + clock(n.timestamp) }),
                                         el("div", { text: n.text })]));
    });
    if (!notes.firstChild) { notes.appendChild(el("li", { className: "muted", text: t("noNotes") })); }

    // history (newest first)
    var hist = $("t-history");
    clear(hist);
    (tk.history || []).slice().reverse().forEach(function (h) {
      hist.appendChild(el("li", null, [
        el("strong", { text: actionName(h.action) }), " ",
        el("span", { className: "meta", text: clock(h.at) + " · " + t("by") + " " + h.by }),
        h.reason ? el("div", { text: h.reason }) : null
      ]));
    });

    renderActions(tk);
  }

  // the bot's messages use **bold**: shown as <strong>, everything else stays plain text
  function withBold(text) {
    return text.split("**").map(function (part, i) { return i % 2 ? el("strong", { text: part }) : part; });
  }

  function actionName(action) {
    var key = "act_" + action;
    var text = t(key);
    return text === key ? action : text;
  }

  function renderTranscript(tk) {
    var list = $("t-transcript");
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    var turns = (tk.transcript || []).map(function (x) { return { sender: x.sender, text: x.text, ts: x.timestamp }; });
    (tk.replies || []).forEach(function (r) {
      turns.push({ sender: "agent", text: r.text, ts: r.timestamp, agent: r.agent, delivered: r.delivered });
    });
    turns.sort(function (a, b) { return (a.ts || 0) - (b.ts || 0); });
    var key = JSON.stringify(turns) + state.lang;
    if (list.getAttribute("data-key") === key) { return; }
    list.setAttribute("data-key", key);
    clear(list);
    turns.forEach(function (turn) {
      var who = t("sender_" + turn.sender) + (turn.agent ? " · " + turn.agent : "");
      var meta = who + " · " + clock(turn.ts) + (turn.delivered === false ? " · " + t("undelivered") : "");
      list.appendChild(el("li", { className: turn.sender + (turn.delivered === false ? " undelivered" : "") },
        [el("span", { className: "meta", text: meta })].concat(withBold(turn.text || ""))));
    });
    if (atBottom || !list.getAttribute("data-seen")) { list.scrollTop = list.scrollHeight; list.setAttribute("data-seen", "1"); }
  }

  function renderActions(tk) {
    var open = isOpen(tk);
    var act = canAct(tk);
    var claimedState = tk.status === "claimed" || tk.status === "waiting_customer";
    var hint = "";
    if (open) {
      if (isMine(tk)) { hint = t("youOwn"); }
      else if (tk.agent) { hint = t("notOwner", { agent: tk.agent }); }
      else { hint = t("unclaimedHint"); }
      if (state.me.role === "lead" && !isMine(tk)) { hint += " " + t("leadHint"); }
    }
    $("owner-hint").textContent = hint;
    var canReply = claimedState && act;
    $("reply-form").querySelector("button[type=submit]").disabled = !canReply;
    $("reply-text").disabled = !canReply && !$("reply-text").value;
    $("note-form").querySelector("button[type=submit]").disabled = false;
    $("escalate-box").hidden = !(open && act);
    $("resolve-box").hidden = !(open && act);
    $("release-btn").hidden = !(claimedState && act);
    $("reopen-btn").hidden = open;
    $("state-form").hidden = $("release-btn").hidden && $("reopen-btn").hidden;
    $("state-reason-label").textContent = open ? t("reasonOptional") : t("reasonForReopen");

    // escalation targets: one tier up, or any other queue
    var sel = $("escalate-queue");
    var chosen = sel.value;
    clear(sel);
    sel.appendChild(el("option", { value: "", text: t("oneTierUp") }));
    state.queues.forEach(function (q) {
      if (q.queue !== tk.queue) {
        sel.appendChild(el("option", { value: q.queue, text: q.queue + " (" + t("tier") + " " + q.tier + ")" }));
      }
    });
    sel.value = chosen && sel.querySelector("option[value='" + chosen.replace(/'/g, "") + "']") ? chosen : "";

    fillCategories(tk);
    if (!state.categories) { loadTaxonomy().then(function () { fillCategories(state.ticket || tk); }).catch(function () {}); }
  }

  // -- actions -------------------------------------------------------------------------------------
  function requireText(id, labelKey, statusId) {
    var value = $(id).value.trim();
    if (!value) {
      setStatus(statusId, t("required", { field: t(labelKey) }), false);
      $(id).focus();
      return null;
    }
    return value;
  }

  function act(statusId, button, request, onDone) {
    if (!state.ticket) { return; }
    button.disabled = true;
    setStatus(statusId, "…", true);
    request().then(function (data) {
      hideError();
      onDone(data);
    }).catch(function (err) {
      setStatus(statusId, errorText(err), false);
      showError(errorText(err));
    }).then(function () {
      button.disabled = false;
      if (state.ticket && currentRef() === state.ticket.reference) { return loadTicket(state.ticket.reference, false); }
    }).catch(function () { /* the next poll retries */ });
  }

  function ticketPath(suffix) { return "/api/v1/agent/tickets/" + encodeURIComponent(state.ticket.reference) + "/" + suffix; }

  function onReply(ev) {
    ev.preventDefault();
    var text = requireText("reply-text", "replyLabel", "reply-status");
    if (text === null) { return; }
    act("reply-status", ev.target.querySelector("button[type=submit]"), function () {
      return api("POST", ticketPath("reply"), { text: text });
    }, function (data) {
      $("reply-text").value = "";
      if (data && data.delivered) { setStatus("reply-status", t("replySent"), true); notice(t("replySent")); }
      else { setStatus("reply-status", t("replyNotDelivered"), false); showError(t("replyNotDelivered")); }
    });
  }

  function onNote(ev) {
    ev.preventDefault();
    var text = requireText("note-text", "noteLabel", "note-status");
    if (text === null) { return; }
    act("note-status", ev.target.querySelector("button[type=submit]"), function () {
      return api("POST", ticketPath("notes"), { text: text });
    }, function () {
      $("note-text").value = "";
      setStatus("note-status", t("noteAdded"), true);
    });
  }

  function onEscalate(ev) {
    ev.preventDefault();
    var reason = requireText("escalate-reason", "reasonRequired", "escalate-status");
    if (reason === null) { return; }
    var body = { reason: reason };
    if ($("escalate-queue").value) { body.to_queue = $("escalate-queue").value; }
    act("escalate-status", ev.target.querySelector("button[type=submit]"), function () {
      return api("POST", ticketPath("escalate"), body);
    }, function (ticket) {
      $("escalate-reason").value = "";
      $("escalate-box").open = false;
      setStatus("escalate-status", "");
      notice(t("escalated", { queue: ticket.queue }));
    });
  }

  function onResolve(ev) {
    ev.preventDefault();
    var resolution = requireText("resolve-text", "resolution", "resolve-status");
    if (resolution === null) { return; }
    var body = { resolution: resolution };
    if ($("propose").checked) {
      var title = requireText("kb-title-input", "kbTitle", "resolve-status");
      if (title === null) { return; }
      var text = requireText("kb-body", "kbBody", "resolve-status");
      if (text === null) { return; }
      body.propose_article = {
        title: title, body: text, lang: $("kb-lang").value, category: $("kb-category").value,
        questions: $("kb-questions").value.split("\n").map(function (q) { return q.trim(); }).filter(Boolean)
      };
    }
    var ref = state.ticket.reference;
    act("resolve-status", ev.target.querySelector("button[type=submit]"), function () {
      return api("POST", ticketPath("resolve"), body);
    }, function (data) {
      resetForms();
      var parts = [t("resolved", { ref: ref }), data.bot_notified ? t("botNotified") : t("botNotNotified")];
      if (data.draft_path) { parts.push(t("draftSaved", { path: data.draft_path })); }
      if (data.draft_issues && data.draft_issues.length) {
        parts.push(t("draftIssues", { issues: data.draft_issues.join("; ") }));
      }
      notice(parts.join(" "));
      if (!data.bot_notified) { showError(t("botNotNotified")); }
    });
  }

  function onRelease() {
    var reason = $("state-reason").value.trim();
    var ref = state.ticket.reference;
    act("state-status", $("release-btn"), function () {
      return api("POST", ticketPath("release"), reason ? { reason: reason } : {});
    }, function (ticket) {
      $("state-reason").value = "";
      notice(t("released", { ref: ref, queue: ticket.queue }));
      backToQueues();
    });
  }

  function onReopen() {
    var reason = requireText("state-reason", "reasonForReopen", "state-status");
    if (reason === null) { return; }
    var ref = state.ticket.reference;
    act("state-status", $("reopen-btn"), function () {
      return api("POST", ticketPath("reopen"), { reason: reason });
    }, function () {
      $("state-reason").value = "";
      setStatus("state-status", t("reopened", { ref: ref }), true);
    });
  }

  // -- polling -------------------------------------------------------------------------------------
  function markLive(ok) {
    var live = $("live");
    live.hidden = ok;
    live.textContent = ok ? "" : t("liveOff");
  }

  function poll() {
    if (!state.me || state.polling || document.hidden) { return; }
    state.polling = true;
    var work;
    if (state.view === "ticket" && currentRef()) {
      work = Promise.all([loadTicket(currentRef(), false), api("GET", "/api/v1/agent/queues").then(function (d) {
        state.queues = d.queues || [];
      })]);
    } else if (state.view === "queues") {
      work = refreshQueues();
    } else {
      work = Promise.resolve();
    }
    work.catch(function (err) {
      if (err && err.api && err.status !== 503) { showError(errorText(err)); }
      markLive(false);
    }).then(function () { state.polling = false; });
  }

  function startPolling() {
    stopPolling();
    state.pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    if (state.pollTimer) { clearInterval(state.pollTimer); state.pollTimer = null; }
  }

  // -- keyboard ------------------------------------------------------------------------------------
  function typing(target) {
    if (!target) { return false; }
    var tag = target.tagName;
    if (tag === "INPUT") { return ["checkbox", "radio", "button", "submit", "reset"].indexOf(target.type) < 0; }
    return tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function toggleHelp(force) {
    var help = $("help");
    var showIt = force === undefined ? help.hidden : force;
    help.hidden = !showIt;
    $("help-btn").setAttribute("aria-expanded", showIt ? "true" : "false");
  }

  function onKey(ev) {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && ev.target && ev.target.tagName === "TEXTAREA") {
      var form = ev.target.form;
      if (form) { ev.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true })); }
      return;
    }
    if (ev.key === "Escape") {
      if (!$("help").hidden) { toggleHelp(false); return; }
      if (typing(ev.target)) { ev.target.blur(); return; }  // first Esc leaves the field, the next one goes back
      if (state.view === "ticket" || state.view === "analytics") { ev.preventDefault(); backToQueues(); }
      return;
    }
    if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey || !state.me) { return; }
    if (ev.key === "?") { ev.preventDefault(); toggleHelp(); return; }
    if (ev.key === "n") { ev.preventDefault(); claimNext(); return; }
    if (ev.key === "g") { ev.preventDefault(); if (state.view === "analytics") { loadAnalytics(); } else { poll(); } return; }
    if (state.view === "ticket") {
      if (ev.key === "r" && !$("reply-text").disabled) { ev.preventDefault(); $("reply-text").focus(); return; }
      if (ev.key === "i") { ev.preventDefault(); $("note-text").focus(); }
    }
  }

  // -- wiring --------------------------------------------------------------------------------------
  function init() {
    applyLang();
    $("ui-lang").addEventListener("change", function () {
      state.lang = $("ui-lang").value;
      localStorage.setItem(LANG_KEY, state.lang);
      applyLang();
    });
    $("signin-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var token = $("token").value.trim();
      $("signin-error").textContent = "";
      if (!token) { $("signin-error").textContent = t("required", { field: t("token") }); $("token").focus(); return; }
      signIn(token).catch(function (err) {
        state.token = "";
        $("signin-error").textContent = err.api && err.status === 401 ? t("tokenInvalid") + " (" + err.detail + ")" : errorText(err);
        $("token").focus();
      });
    });
    $("signout").addEventListener("click", function () { signOut(""); });
    $("alert-close").addEventListener("click", hideError);
    $("help-btn").addEventListener("click", function () { toggleHelp(); });
    $("claim-next").addEventListener("click", claimNext);
    $("back").addEventListener("click", backToQueues);
    ["filter-mine", "filter-queue", "filter-status", "filter-sort"].forEach(function (id) {
      $(id).addEventListener("change", function () { refreshQueues().catch(function (err) { showError(errorText(err)); }); });
    });
    $("reply-form").addEventListener("submit", onReply);
    $("note-form").addEventListener("submit", onNote);
    $("escalate-form").addEventListener("submit", onEscalate);
    $("resolve-form").addEventListener("submit", onResolve);
    $("release-btn").addEventListener("click", onRelease);
    $("reopen-btn").addEventListener("click", onReopen);
    document.querySelectorAll(".period-switch button").forEach(function (b) { b.addEventListener("click", onPeriod); });
    document.querySelectorAll("[data-gaps-since]").forEach(function (b) {
      b.addEventListener("click", function () { state.gapsSince = b.getAttribute("data-gaps-since"); loadGaps(); });
    });
    $("incidents-resolved").addEventListener("change", function () { loadIncidents(); });
    $("propose").addEventListener("change", function () {
      $("propose-fields").hidden = !$("propose").checked;
      if ($("propose").checked) { $("kb-title-input").focus(); }
    });
    document.addEventListener("keydown", onKey);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
    window.addEventListener("hashchange", function () {
      if (state.me) { route(); }
    });

    if (state.token) {
      signIn(state.token).catch(function (err) {
        signOut(err.api && err.status === 401 ? t("sessionEnded") : errorText(err));
      });
    } else {
      show("signin");
      $("token").focus();
    }
  }

  init();
})();
