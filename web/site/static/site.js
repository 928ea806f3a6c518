/* Demo site glue: language and demo login go to the bot in the socket's customData. */
(function () {
  "use strict";
  var TEXT = {
    de: { language: "Sprache", guest: "Gast (nicht angemeldet)", headline: "Filme und Serien, überall.",
          sub: "Auf Smart-TV, Handy, im Browser und mit dem Streamly Stick.", basic: "1 Stream · SD",
          standard: "2 Streams · HD", premium: "4 Streams · 4K UHD", stick: "HDMI-Stick mit Fernbedienung",
          help: "Hilfe", helptext: "Fragen zu Konto, Abrechnung, Abo, Technik, Versand oder Datenschutz? Unser Assistent hilft sofort – und übergibt an unser Team, wenn nötig.",
          title: "Streamly Hilfe", subtitle: "Assistent · antwortet sofort", hint: "Ihre Frage …", signedIn: "Angemeldet als" },
    en: { language: "Language", guest: "Guest (not signed in)", headline: "Films and series, everywhere.",
          sub: "On smart TVs, phones, in the browser and with the Streamly Stick.", basic: "1 stream · SD",
          standard: "2 streams · HD", premium: "4 streams · 4K UHD", stick: "HDMI stick with remote",
          help: "Help", helptext: "Questions about your account, billing, subscription, devices, delivery or privacy? Our assistant helps right away – and hands over to our team when needed.",
          title: "Streamly Help", subtitle: "Assistant · answers instantly", hint: "Your question …", signedIn: "Signed in as" },
    da: { language: "Sprog", guest: "Gæst (ikke logget ind)", headline: "Film og serier, overalt.",
          sub: "På smart-tv, mobil, i browseren og med Streamly Stick.", basic: "1 stream · SD",
          standard: "2 streams · HD", premium: "4 streams · 4K UHD", stick: "HDMI-stick med fjernbetjening",
          help: "Hjælp", helptext: "Spørgsmål om konto, betaling, abonnement, enheder, levering eller databeskyttelse? Vores assistent hjælper med det samme – og giver videre til vores team, når det er nødvendigt.",
          title: "Streamly Hjælp", subtitle: "Assistent · svarer med det samme", hint: "Dit spørgsmål …", signedIn: "Logget ind som" }
  };
  var params = new URLSearchParams(location.search);
  var stored = localStorage.getItem("fd_lang");
  var browser = (navigator.language || "de").slice(0, 2);
  var lang = params.get("lang") || stored || (TEXT[browser] ? browser : "de");
  if (!TEXT[lang]) { lang = "de"; }
  localStorage.setItem("fd_lang", lang);
  document.documentElement.lang = lang;
  var t = TEXT[lang];
  document.querySelectorAll("[data-i18n]").forEach(function (el) {
    var key = el.getAttribute("data-i18n");
    if (t[key]) { el.textContent = t[key]; }
  });
  var langSelect = document.getElementById("lang");
  langSelect.value = lang;
  langSelect.addEventListener("change", function () {
    localStorage.setItem("fd_lang", langSelect.value);
    params.set("lang", langSelect.value);
    location.search = params.toString();
  });

  var login = JSON.parse(localStorage.getItem("fd_login") || "null");
  var loginSelect = document.getElementById("login");
  if (login) {
    loginSelect.value = login.key;
    document.getElementById("who").textContent = t.signedIn + " " + login.name;
  }
  loginSelect.addEventListener("change", function () {
    var key = loginSelect.value;
    // a different person means a different conversation: forget the widget's session
    Object.keys(localStorage).forEach(function (k) { if (k.indexOf("chat_session") === 0) { localStorage.removeItem(k); } });
    if (!key) { localStorage.removeItem("fd_login"); location.reload(); return; }
    fetch("/api/demo-login", { method: "POST", headers: { "Content-Type": "application/json" },
                               body: JSON.stringify({ customer: key }) })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        localStorage.setItem("fd_login", JSON.stringify({ key: key, name: body.name, token: body.token }));
        location.reload();
      });
  });

  fetch("/config.json").then(function (r) { return r.json(); }).then(function (cfg) {
    if (!window.WebChat) { return; }
    var customData = { language: lang };
    if (login) { customData.auth_token = login.token; }
    window.WebChat.default({
      selector: "#webchat",
      initPayload: "/session_greet",
      customData: customData,
      socketUrl: cfg.socketUrl,
      socketPath: cfg.socketPath,
      title: t.title,
      subtitle: t.subtitle,
      inputTextFieldHint: t.hint,
      showMessageDate: true,
      params: { storage: "local" }
    }, null);
  });
})();
