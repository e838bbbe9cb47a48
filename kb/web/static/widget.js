/*! omnikb chat widget: <script src="http://HOST:7860/widget.js" data-kb-url="http://HOST:7860" defer></script>
 * Options: data-kb-url, -position, -accent, -title, -greeting, -language, -open (README.md).
 * One shadow root; the only global is window.OmniKB. What comes from the server goes in as text, never HTML.
 */
(() => {
  "use strict";
  if (window.OmniKB) return;

  const VERSION = "1.0.0";
  const MAX_TURNS = 20;
  const MAX_ANSWER_CHARS = 4000;
  // The server's limits: the contract's until GET /api/health says its own (KB_MAX_*).
  const limits = { question_chars: 2000, history_turns: MAX_TURNS, history_turn_chars: MAX_ANSWER_CHARS };
  const MAX_HISTORY_BYTES = 40000;
  const TIMEOUT_MS = 90000;
  const LEARN_MS = 5000;  // the longest a question waits for the server's limits
  const OFFERED = 3;  // the articles' own questions offered under the greeting
  const RTL = new Set(["ar", "he", "fa", "ur", "ps", "sd", "ug", "yi", "dv", "ku", "ckb"]);
  const RTL_CHARS = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]/;
  const HEBREW_CHARS = /[\u0590-\u05ff]/;
  const LTR_CHARS = /[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]/;

  // The labels in English ({s}: seconds); the server has the others (kb/i18n/locales/).
  const EN = {
    title: "Ask this blog", greeting: "Hi! Ask me anything about the articles on this site.",
    placeholder: "Type your question…", send: "Send", open: "Open chat", close: "Close chat",
    reset: "New conversation", label: "Your question", thinking: "Looking through the articles…", sources: "Sources",
    rate: "You are asking faster than I can answer. Please wait {s} seconds and try again.",
    offline: "Sorry, I cannot reach the assistant right now. Please try again later.", source: "Source",
    open_post: "View on the site", long: "Your question is too long; please shorten it.", examples: "Examples",
  };
  const STRINGS = { en: EN };
  const strings = (code) => {
    const row = STRINGS[code] || EN;
    return Object.fromEntries(Object.keys(EN).map((key) => [key, String(row[key] || EN[key])]));
  };
  const primary = (tag) => String(tag || "").trim().toLowerCase().split(/[-_]/)[0];

  // -- configuration from the script tag
  const script = document.currentScript || document.querySelector("script[data-kb-url]") ||
    Array.from(document.scripts).find((s) => /\/widget\.js(\?|#|$)/.test(s.src));
  const data = (script && script.dataset) || {};
  let base = data.kbUrl || "";
  if (!base && script && script.src) base = new URL(script.src, location.href).origin;
  base = base.replace(/\/+$/, "");
  const config = {
    base,
    position: /left/i.test(data.position || "") ? "left" : "right",
    accent: data.accent && CSS.supports("color", data.accent) ? data.accent : "#2563eb",
    title: data.title || "",
    greeting: data.greeting || "",
    language: primary(data.language) || primary(document.documentElement.lang) ||
      primary(navigator.language) || "en",
    open: /^(1|true|yes|open)$/i.test(data.open || ""),
  };
  const STORE_KEY = "omnikb:" + (config.base || location.origin);

  // -- a few DOM helpers: no markup strings anywhere
  const h = (tag, attrs, kids) => {
    const el = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (value == null || value === false) return;
      if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    });
    (kids || []).forEach((kid) => {
      if (kid != null) el.appendChild(typeof kid === "string" ? document.createTextNode(kid) : kid);
    });
    return el;
  };
  const svg = (tag, attrs, kid) => {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.entries(attrs).forEach(([key, value]) => el.setAttribute(key, value));
    if (kid) el.appendChild(kid);
    return el;
  };
  const icon = (d) => svg("svg", { viewBox: "0 0 24 24", width: 22, height: 22, "aria-hidden": true },
    svg("path", { d, fill: "currentColor" }));
  const ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  const ICON_CLOSE = "M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7l-1.4-1.4L9.2 12 2.9 5.7l1.4-1.4 6.3 6.3 6.3-6.3z";
  const ICON_RESET = "M12 5V1L7 6l5 5V7a6 6 0 1 1-6 6H4a8 8 0 1 0 8-8z";
  const ICON_SEND = "M2 21 23 12 2 3v7l15 2-15 2z";

  const CSS_TEXT = `
*{box-sizing:border-box}
.root{font:15px/1.45 system-ui,"Segoe UI",Roboto,"Noto Sans","Noto Naskh Arabic",Tahoma,sans-serif;
 color:#1f2328;--accent:var(--kb-accent,#2563eb);--on-accent:var(--kb-on-accent,#fff);
--ink:var(--kb-accent-ink,var(--accent));--ring:var(--kb-ring,var(--accent))}
button{font:inherit;cursor:pointer}
.launcher,.head,.user,.send{background:var(--accent);color:var(--on-accent)}
.launcher,.icon,.send{display:flex;align-items:center;justify-content:center;flex:none}
.launcher{position:fixed;bottom:20px;right:20px;width:56px;height:56px;border-radius:50%;border:0;
 box-shadow:0 4px 14px rgba(0,0,0,.28)}
:focus-visible{outline:3px solid var(--ring);outline-offset:2px}
.panel{position:fixed;bottom:88px;right:20px;width:min(390px,calc(100vw - 40px));height:min(620px,calc(100vh - 108px));
 height:min(620px,calc(100dvh - 108px));display:flex;flex-direction:column;background:#fff;border-radius:14px;
 box-shadow:0 12px 40px rgba(0,0,0,.28);overflow:hidden;text-align:start}
.panel[hidden]{display:none}
.left .launcher,.left .panel{right:auto;left:20px}
.head{display:flex;align-items:center;gap:6px;padding:10px}
.head h2{flex:1;margin:0 6px;font-size:16px;font-weight:600}
.head h2,summary{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.icon{background:transparent;border:0;color:inherit;width:36px;height:36px;border-radius:8px}
.icon:hover{background:rgba(255,255,255,.18)}
.icon:focus-visible{outline-color:var(--on-accent);outline-offset:-3px}
.log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px}
.msg{max-width:90%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}
.text,.user,blockquote{unicode-bidi:plaintext}
.text p{margin:0}
.text ul{margin:0;padding:0}
.text li{margin-inline-start:18px}
.user{align-self:flex-end}
.bot{align-self:flex-start;background:#f1f3f5}
.bot.pending{color:#57606a;font-style:italic}
.examples{display:flex;flex-wrap:wrap;gap:6px}
.example{border:1px solid var(--accent);background:#fff;color:var(--ink);border-radius:14px;padding:4px 10px;
 font-size:13px;text-align:start}
.error{align-self:stretch;max-width:none;background:#fff4e5;color:#6b3a00;border:1px solid #f0c36d}
.cite{border:0;background:transparent;color:var(--ink);font-weight:600;padding:0 1px;font-size:.9em;
 vertical-align:super;line-height:1}
.sources{margin:8px 0 0;white-space:normal}
.sources>p{margin:0 0 4px;font-size:12px;font-weight:600;text-transform:uppercase;color:#57606a}
.sources ol{margin:0;padding:0;list-style:none;display:flex;flex-direction:column;gap:4px}
details{background:#fff;border:1px solid #d8dee4;border-radius:8px;font-size:13px}
details[open]{border-color:var(--accent)}
summary{padding:5px 8px;cursor:pointer}
.num{font-weight:700;color:var(--ink)}
blockquote{margin:0;padding:6px 10px;border-inline-start:3px solid var(--accent);white-space:pre-wrap;
 max-height:220px;overflow-y:auto}
.notice{margin:6px 0 0;font-size:12px;color:#57606a;white-space:normal}
.src{margin:0;padding:4px 10px 6px;color:#57606a;font-size:12px;overflow-wrap:anywhere}
.src a{color:var(--ink);white-space:nowrap}
form{display:flex;gap:8px;padding:10px;border-top:1px solid #d8dee4}
textarea{flex:1;min-width:0;resize:none;font:inherit;font-size:16px;line-height:1.35;padding:8px 10px;
 border:1px solid #afb8c1;border-radius:10px;min-height:42px;max-height:120px;color:inherit;background:#fff}
.note{margin:0;padding:6px 12px 0;font-size:13px;color:#b42318}
.send{border:0;border-radius:10px;width:44px}
.send:disabled{opacity:.5;cursor:default}
[dir=rtl] .send svg{transform:scaleX(-1)}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
@media (max-width:480px),(max-height:500px){
 .panel,.left .panel{inset:var(--kb-vv-top,0) auto auto var(--kb-vv-left,0);width:var(--kb-vv-width,100%);
  height:var(--kb-vv-height,100%);border-radius:0}
 .open .launcher{display:none}
 textarea{max-height:30vh}
}
@media (forced-colors:active){
 .panel,.launcher,.msg,.send,.icon{border:1px solid transparent}
 .head{border-bottom:1px solid}
 :focus-visible,.icon:focus-visible{outline-color:Highlight}
}
@media (prefers-reduced-motion:no-preference){.panel{animation:pop .14s ease-out}
 @keyframes pop{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}}
`;

  // -- state
  let items = [];  // [{role: "user", text}, {role: "assistant", answer: {...}}]
  let isOpen = false;
  let busy = false;
  let epoch = 0;  // a new conversation drops the answer under way
  let streaming = true;  // until the server says it has no /api/ask/stream
  let uiLang = STRINGS[config.language] ? config.language : "en";  // the labels' language
  let S = strings(uiLang);
  let counter = 0;
  let examples = [];  // the articles' own questions (GET /api/examples)

  const load = () => {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
      if (saved && Array.isArray(saved.items)) return saved;
    } catch (err) { /* storage disabled or corrupt: start afresh */ }
    return { items: [], open: false };
  };
  const save = () => {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({ items: items.slice(-2 * MAX_TURNS), open: isOpen }));
    } catch (err) { /* storage full or disabled: the conversation still works */ }
  };
  // The newest turns within the server's limits, each ≤ 4000 characters: well under 64 KiB.
  const history = () => {
    const turns = [];
    let bytes = 0;
    for (let i = items.length - 1; i >= 0 && turns.length < limits.history_turns; i--) {
      const item = items[i];
      const content = String(item.role === "user" ? item.text : item.answer.answer)
        .slice(0, Math.min(MAX_ANSWER_CHARS, limits.history_turn_chars));
      const turn = { role: item.role, content };
      bytes += new TextEncoder().encode(JSON.stringify(turn)).length;
      if (bytes > MAX_HISTORY_BYTES) break;
      turns.unshift(turn);
    }
    return turns;
  };

  // -- the DOM
  const host = document.createElement("div");
  host.setAttribute("data-omnikb", VERSION);
  // Inline !important beats any page rule aimed at the host.
  host.style.cssText = ("all:initial;display:block;position:fixed;z-index:2147483000;width:0;height:0;top:auto;" +
    "left:auto;bottom:0;right:0").replace(/;|$/g, "!important;");
  host.style.setProperty("--kb-accent", config.accent);
  const shadow = host.attachShadow({ mode: "open" });

  const uid = "okb" + Math.random().toString(36).slice(2, 8);
  const titleEl = h("h2", { id: uid + "-title" });
  const resetBtn = h("button", { type: "button", class: "icon", onclick: () => reset() }, [icon(ICON_RESET)]);
  const closeBtn = h("button", { type: "button", class: "icon", onclick: () => close() }, [icon(ICON_CLOSE)]);
  const log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
  const label = h("label", { class: "sr", for: uid + "-q" });
  const note = h("p", { class: "note", id: uid + "-n", role: "status", hidden: true });
  const input = h("textarea", { id: uid + "-q", rows: "1", autocomplete: "off", "aria-describedby": uid + "-n" });
  const sendBtn = h("button", { type: "submit", class: "send" }, [icon(ICON_SEND)]);
  const form = h("form", { novalidate: true }, [label, input, sendBtn]);
  const panel = h("div", {
    class: "panel", role: "dialog", "aria-modal": "true", "aria-labelledby": uid + "-title", id: uid + "-panel",
    hidden: true,
  }, [h("div", { class: "head" }, [titleEl, resetBtn, closeBtn]), log, note, form]);
  const launcher = h("button", {
    type: "button", class: "launcher", "aria-haspopup": "dialog", "aria-expanded": "false",
    "aria-controls": uid + "-panel", onclick: () => (isOpen ? close() : open()),
  }, [icon(ICON_CHAT)]);
  const root = h("div", { class: "root " + config.position }, [launcher, panel]);
  // A phone's keyboard leaves less in view: the full-screen panel keeps to what is, the question
  // box in sight. Not under a pinch: the panel keeps its size, to move about in.
  const view = window.visualViewport;
  const keep = () => Object.entries({ top: view.offsetTop, left: view.offsetLeft, width: view.width, height: view.height })
    .forEach(([side, px]) => (view.scale > 1.01 ? host.style.removeProperty("--kb-vv-" + side)
      : host.style.setProperty("--kb-vv-" + side, px + "px")));
  if (view) ["resize", "scroll"].forEach((type) => view.addEventListener(type, keep));
  // A page's CSP (style-src without 'unsafe-inline') blocks a <style>, not a constructed sheet.
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS_TEXT);
    shadow.adoptedStyleSheets = [sheet, ...shadow.adoptedStyleSheets];  // a TypeError without them
  } catch (err) { shadow.append(h("style", { text: CSS_TEXT })); }
  shadow.append(root);

  const relabel = () => {
    titleEl.textContent = config.title || S.title;
    [[resetBtn, S.reset], [closeBtn, S.close], [sendBtn, S.send]].forEach(([btn, name]) => {
      btn.title = name;
      btn.setAttribute("aria-label", name);
    });
    label.textContent = S.label;
    input.placeholder = S.placeholder;
    // The launcher says what it does now: open the chat, or close it.
    launcher.setAttribute("aria-label", (isOpen ? S.close : S.open) + ": " + (config.title || S.title));
    launcher.querySelector("path").setAttribute("d", isOpen ? ICON_CLOSE : ICON_CHAT);
  };
  // The panel follows the conversation's language: Arabic lays it out right to left.
  const setLanguage = (code, dir) => {
    const lang = primary(code) || config.language;
    panel.dir = dir || (RTL.has(lang) ? "rtl" : "ltr");
    panel.lang = lang;
    if (lang === uiLang) return;
    if (STRINGS[lang]) useStrings(lang);
    else fetchStrings(lang);
  };
  const useStrings = (lang) => {
    uiLang = lang;
    S = strings(lang);
    relabel();
    fit();
  };
  // The greeting stays in the page's language, whatever the conversation's; rewritten (and so
  // read out again in the live log) only when its words change.
  const greet = () => {
    const el = log.querySelector(".greeting");
    const lang = STRINGS[config.language] ? config.language : "en";
    if (el && !config.greeting && el.textContent !== strings(lang).greeting) {
      el.lang = lang;
      el.textContent = strings(lang).greeting;
    }
  };
  // The other languages' labels, fetched once each (see EN).
  const asked = new Map();
  const fetchStrings = (lang) => {
    if (STRINGS[lang] || !/^[a-z]{2,3}$/.test(lang)) return null;
    if (!asked.has(lang)) asked.set(lang, get("/api/widget/strings/" + lang)
      .then((res) => (res.ok ? res.json() : null))
      .then((body) => {
        const row = body && body.strings;
        if (!row || typeof row !== "object" || Array.isArray(row)) return;
        STRINGS[lang] = row;
        greet();
        if (panel.lang === lang) useStrings(lang);
      })
      .catch(() => {}));  // offline, or a language omnikb does not speak: the labels stay
    return asked.get(lang);
  };
  // Before the answer names it: the page's language if it runs the same way, else by the letters.
  const guessLanguage = (text, dir) => {
    if (dir === "ltr") return RTL.has(uiLang) ? "en" : uiLang;
    return RTL.has(uiLang) ? uiLang : HEBREW_CHARS.test(text) ? "he" : "ar";
  };
  const textDirection = (text) => {
    for (const ch of text) {
      if (RTL_CHARS.test(ch)) return "rtl";
      if (LTR_CHARS.test(ch)) return "ltr";
    }
    return null;
  };

  // WCAG contrast. Text on the accent in black or white, whichever reads better; the accent as
  // text (4.5) and as the focus ring (3) darkened (on a dark ground lightened) until it reads on
  // the grey of the answers, the darkest ground it meets (white is lighter still).
  const luminance = (rgb) => rgb.reduce((sum, c, i) => {
    c /= 255;
    return sum + [0.2126, 0.7152, 0.0722][i] * (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  }, 0);
  const contrast = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const readable = (rgb, ground, min) => {
    const dark = luminance(ground) > 0.18;
    const step = (c) => (dark ? Math.floor(c * 0.9) : Math.ceil(c + (255 - c) / 10));
    while (contrast(rgb, ground) < min) rgb = rgb.map(step);
    return "rgb(" + rgb.join(",") + ")";
  };
  const pickContrast = () => {
    const rgb = (getComputedStyle(launcher).backgroundColor.match(/[\d.]+/g) || []).map(Number).slice(0, 3);
    if (rgb.length < 3) return;
    const bubble = [241, 243, 245];  // .bot
    const black = contrast(rgb, [0, 0, 0]) > contrast(rgb, [255, 255, 255]);
    host.style.setProperty("--kb-on-accent", black ? "#000" : "#fff");
    host.style.setProperty("--kb-accent-ink", readable(rgb, bubble, 4.5));
    host.style.setProperty("--kb-ring", readable(rgb, bubble, 3));
  };

  // -- a citation's link to its quote on the post, built as kb/answer/links.py builds it
  const QUOTE = /“(.+?)”\s*((?:\[\d+\]\s*)+)/g;
  const EDGE_WORDS = 4;
  const quotedSegments = (answerText, ident) => {
    const out = [];
    for (const m of String(answerText || "").matchAll(QUOTE)) {
      if (!(m[2].match(/\d+/g) || []).map(Number).includes(ident)) continue;
      m[1].split(/ … | — /).forEach((part) => {
        let piece = part.trim();
        if (piece.endsWith("…")) piece = piece.slice(0, -1).trim();
        if (piece) out.push(piece);
      });
    }
    return out;
  };
  const citationQuote = (text, segments) => {
    let from = -1, to = -1;
    segments.forEach((segment) => {
      const words = segment.split(/\s+/).filter(Boolean);
      if (!words.length) return;
      const m = new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\s+")).exec(text);
      if (!m) return;
      from = from < 0 ? m.index : Math.min(from, m.index);
      to = Math.max(to, m.index + m[0].length);
    });
    return from < 0 ? text : text.slice(from, to);
  };
  const encodeTerm = (term) => encodeURIComponent(term)
    .replace(/[!'()*-]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  const textFragment = (quote) => {
    const blocks = [];
    quote.split("\n").forEach((line) => line.split(" | ").forEach((cell) => {
      const words = cell.trim().replace(/^(?:[-•]\s+|\d{1,9}[.)]\s+)/, "").split(/\s+/).filter(Boolean);
      if (words.length) blocks.push(words);
    }));
    if (!blocks.length) return "";
    if (blocks.length === 1 && blocks[0].length <= 2 * EDGE_WORDS) return ":~:text=" + encodeTerm(blocks[0].join(" "));
    const last = blocks[blocks.length - 1];
    return ":~:text=" + encodeTerm(blocks[0].slice(0, EDGE_WORDS).join(" ")) + "," +
      encodeTerm(last.slice(-EDGE_WORDS).join(" "));
  };
  // Only an absolute http(s) address is a link: never javascript:, data: or a relative one.
  const safeLink = (url) => {
    if (typeof url !== "string" || /[\s"'<>\\^`{|}\x00-\x1f\x7f]/.test(url)) return null;
    try {
      const parsed = new URL(url);
      const web = parsed.protocol === "http:" || parsed.protocol === "https:";
      return web && parsed.hostname && !parsed.username && !parsed.password ? url : null;
    } catch (err) { return null; }
  };
  const quoteLink = (citation, answerText) => {
    const url = safeLink(citation.url);
    if (!url) return null;
    try {
      const text = String(citation.text || "");
      const fragment = textFragment(citationQuote(text, quotedSegments(answerText, Number(citation.id))));
      return fragment ? url.split("#")[0] + "#" + fragment : url;
    } catch (err) { return url; }  // a lone surrogate encodeURIComponent refuses
  };

  // -- rendering messages
  const scrollDown = () => { log.scrollTop = log.scrollHeight; };
  const addItem = (node) => { log.appendChild(node); scrollDown(); return node; };
  // Text in a language: its lang and direction (unknown, each paragraph finds its own).
  const speak = (el, language) => {
    const lang = primary(language);
    el.dir = lang ? (RTL.has(lang) ? "rtl" : "ltr") : "auto";
    if (lang) el.lang = lang;
    return el;
  };
  // The question in the language the server found it in, once it says.
  const userBubble = (text, language) => speak(h("div", { class: "msg user" }, [text]), language);

  const postLink = (citation, answerText) => {
    const href = quoteLink(citation, answerText);
    return href ? [" · ", h("a", { href, target: "_blank", rel: "noopener noreferrer", text: S.open_post })] : [];
  };

  const answerBubble = (answer) => {
    const id = uid + "-a" + (++counter);
    const citations = Array.isArray(answer.citations) ? answer.citations : [];
    const byId = new Map(citations.map((c) => [String(c.id), c]));
    const bubble = speak(h("div", { class: "msg bot answer" }), answer.language);
    const text = h("div", { class: "text" });
    // A line a paragraph; the answer's "- " lines a list; the [n] markers buttons that open their passage.
    let points = null;
    String(answer.answer || "").split("\n").forEach((raw) => {
      const line = raw.trim();
      const point = line.startsWith("- ");
      if (!point) points = null;
      if (!line) return;
      if (point && !points) text.appendChild(points = h("ul"));
      const body = point ? line.slice(2) : line;
      // A quote ("“…” [n]") is in its passage's language, not the answer's.
      const quoted = /^“[^]*”\s*((?:\[\d+\]\s*)+)$/.exec(body);
      const langs = new Set((quoted ? quoted[1].match(/\d+/g) : []).map((n) => primary(byId.get(n)?.language)));
      const block = speak(h(point ? "li" : "p"), langs.size === 1 && [...langs][0]);
      (point ? points : text).appendChild(block);
      body.split(/(\[\d+\])/).forEach((part) => marker(block, part));
    });
    function marker(block, part) {
      const m = /^\[(\d+)\]$/.exec(part);
      const citation = m && byId.get(m[1]);
      if (!citation) { if (part) block.appendChild(document.createTextNode(part)); return; }
      block.appendChild(h("button", {
        type: "button", class: "cite", "aria-controls": id + "-c" + m[1],
        "aria-label": S.source + " " + m[1] + ": " + (citation.title || citation.source || ""),
        text: "[" + m[1] + "]",
        onclick: () => {
          const details = shadow.getElementById(id + "-c" + m[1]);
          if (!details) return;
          details.open = true;
          details.scrollIntoView({ block: "nearest" });
          details.querySelector("summary").focus();
        },
      }));
    }
    bubble.appendChild(text);
    if (answer.notice) bubble.appendChild(h("p", { class: "notice", dir: "auto", text: String(answer.notice) }));
    if (citations.length) {
      const list = h("ol");
      citations.forEach((c) => {
        const where = [c.title, c.source].filter(Boolean).join(" — ");
        // A passage that scrolls is a Tab stop in every browser, to scroll with the keys.
        const ontoggle = (event) => {
          const quote = event.target.querySelector("blockquote");
          if (quote.scrollHeight > quote.clientHeight) quote.tabIndex = 0;
        };
        list.appendChild(h("li", {}, [h("details", { id: id + "-c" + c.id, class: "citation", ontoggle }, [
          h("summary", { dir: "auto" }, [h("span", { class: "num", text: "[" + c.id + "]" }), " ",
            h("span", { class: "ctitle", text: c.title || c.source || "" })]),
          speak(h("blockquote", { text: String(c.text || "") }), c.language),
          h("p", { class: "src", dir: "auto" }, [S.source + ": " + where, ...postLink(c, answer.answer)]),
        ])]));
      });
      bubble.appendChild(h("div", { class: "sources" }, [h("p", { text: S.sources }), list]));
    }
    return bubble;
  };

  // The articles' own questions, under the greeting of a conversation not yet begun.
  const offer = () => {
    if (items.length || !examples.length || log.children.length !== 1) return;
    log.appendChild(h("div", { class: "examples", role: "group", "aria-label": S.examples }, examples.map((q) =>
      h("button", { type: "button", class: "example", dir: textDirection(q) || "auto", text: q, onclick: () => submit(q) }))));
  };
  const renderAll = () => {
    log.replaceChildren(h("div", { class: "msg bot greeting", dir: "auto", text: config.greeting }));
    greet();
    offer();
    items.forEach((item, i) => log.appendChild(item.role === "user"
      ? userBubble(item.text, (items[i + 1] || {}).answer?.language) : answerBubble(item.answer)));
    scrollDown();
  };

  // -- talking to the server
  const askError = (message, kind, retryAfter) => Object.assign(new Error(message), { kind, retryAfter });

  const get = (path, signal) => fetch(config.base + path, { credentials: "omit", signal });
  const post = (path, body, accept, signal) => fetch(config.base + path, {
    method: "POST", credentials: "omit", headers: { "Content-Type": "application/json", Accept: accept },
    body: JSON.stringify(body), signal,
  });

  const httpError = async (res) => {
    const payload = await res.json().catch(() => null);  // not JSON
    const message = (payload && payload.error && payload.error.message) || "";
    if (res.status === 429) {
      const seconds = parseInt(res.headers.get("Retry-After"), 10);  // NaN without one
      return askError(message, "rate", seconds > 0 ? seconds : 60);
    }
    return askError(message || "HTTP " + res.status, "http");
  };

  const withTimeout = () => {
    const controller = new AbortController();
    let timer;
    const poke = () => { clearTimeout(timer); timer = setTimeout(() => controller.abort(), TIMEOUT_MS); };
    poke();
    return { signal: controller.signal, poke, done: () => clearTimeout(timer) };
  };

  const parseData = (raw) => {
    try { return JSON.parse(raw); } catch (err) { return raw; }
  };

  // Server-sent events: `event: token` pieces, then `event: answer` with the contract JSON.
  const readStream = async (res, onToken, clock) => {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let final = null;
    const handle = (block) => {
      let event = "message";
      const lines = [];
      block.split("\n").forEach((line) => {
        const [, field, value] = /^([^:]*):? ?(.*)/.exec(line);  // ":…" is a comment: no field
        if (field === "event") event = value;
        else if (field === "data") lines.push(value);
      });
      if (!lines.length) return;
      const raw = lines.join("\n");
      if (event === "token") {
        const value = parseData(raw);
        const piece = typeof value === "string" ? value : value && (value.text || value.token || value.delta);
        if (piece) onToken(String(piece));
      } else if (event === "answer" || (event === "message" && /"citations"/.test(raw))) {
        final = JSON.parse(raw);
      } else if (event === "error") {
        const value = parseData(raw);
        const error = value && value.error ? value.error : {};
        throw askError(error.message || String(value), error.code === "rate_limited" ? "rate" : "http", 60);
      }
    };
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      clock.poke();
      buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n|\r(?!$)/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        handle(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (final) { reader.cancel().catch(() => {}); return final; }
      }
    }
    if (buffer.trim()) handle(buffer);
    return final;
  };

  // Questions in the page's language, asked for once, when the panel first opens.
  let suggested = null;
  const suggest = () => suggested || (suggested = get("/api/examples?limit=" + OFFERED +
    (/^[a-z]{2}$/.test(config.language) ? "&language=" + config.language : ""))
    .then((res) => (res.ok ? res.json() : null))
    .then((body) => {
      examples = (body && Array.isArray(body.examples) ? body.examples : [])
        .filter((q) => typeof q === "string" && q.trim()).slice(0, OFFERED);
      offer();
    }).catch(() => {}));
  let learnt = null;
  const learn = () => {
    if (learnt) return learnt;
    const stop = new AbortController(), timer = setTimeout(() => stop.abort(), LEARN_MS);
    return (learnt = get("/api/health", stop.signal)
      .then((res) => res.json()).then((body) => Object.assign(limits, body.limits))
      .catch(() => {}).finally(() => clearTimeout(timer)));
  };
  // Reachable (no-cors), so this page's origin is refused: tell the owner.
  const why = () => fetch(config.base + "/api/health", { mode: "no-cors" }).then(() => console.warn("omnikb: "
    + config.base + " refuses " + location.origin + ": add it to KB_ALLOWED_ORIGINS"), () => {});

  const request = async (question, onToken) => {
    await learn();
    const body = { question, history: history() };
    const clock = withTimeout();
    try {
      if (streaming) {
        let res = null;
        try {
          res = await post("/api/ask/stream", body, "text/event-stream", clock.signal);
        } catch (err) {
          if (clock.signal.aborted) throw err;  // timed out: do not ask twice
        }
        if (res && [404, 405, 501].includes(res.status)) streaming = false;
        else if (res && res.ok && /event-stream/.test(res.headers.get("Content-Type") || "")) {
          const final = await readStream(res, onToken, clock);
          if (final) return final;
        } else if (res && res.ok) return await res.json();
        else if (res) throw await httpError(res);
      }
      const res = await post("/api/ask", body, "application/json", clock.signal);
      if (!res.ok) throw await httpError(res);
      return await res.json();
    } finally {
      clock.done();
    }
  };

  // The box grows with the question (to max-height); one over the limit is said, neither cut nor sent.
  const fit = (text = input.value) => {
    const chars = [...text.trim()].length;
    const over = chars > limits.question_chars;
    note.hidden = !over;
    note.textContent = S.long + " (" + chars + "/" + limits.question_chars + ")";
    input.setAttribute("aria-invalid", over);
    input.style.height = "auto";
    input.style.height = input.scrollHeight + 2 + "px";
    return !over;
  };

  const submit = async (raw) => {
    const question = String(raw || "").trim();
    if (!question || busy || !fit(question)) return;
    busy = true;
    const mine = epoch;
    sendBtn.disabled = true;
    input.value = "";
    fit();
    const dir = textDirection(question);
    if (dir) setLanguage(guessLanguage(question, dir), dir);
    const offered = log.querySelector(".examples");
    if (offered) offered.remove();
    const bubble = addItem(userBubble(question));
    const pending = addItem(h("div", { class: "msg bot pending", dir: "auto", "aria-busy": "true", text: S.thinking }));
    log.setAttribute("aria-busy", "true");
    let streamed = "";
    try {
      const answer = await request(question, (piece) => {
        streamed += piece;
        pending.textContent = streamed;
        scrollDown();
      });
      if (mine !== epoch) return;
      if (!answer || typeof answer.answer !== "string") throw askError("", "http");
      const { language, answered, notice } = answer;
      const kept = {
        answer: answer.answer, language, answered, notice,
        citations: (answer.citations || []).map((c) => (
          { id: c.id, title: c.title, source: c.source, language: c.language, text: c.text, url: c.url })),
      };
      items.push({ role: "user", text: question }, { role: "assistant", answer: kept });
      save();
      setLanguage(kept.language);
      pending.replaceWith(answerBubble(kept));
      speak(bubble, kept.language);  // not announced again
      scrollDown();
    } catch (err) {
      if (mine !== epoch) return;
      if (err instanceof TypeError) why();
      const message = err && err.kind === "rate" ? S.rate.replace("{s}", err.retryAfter)
        : err && err.kind === "http" && err.message ? err.message : S.offline;
      pending.replaceWith(h("div", { class: "msg error", role: "alert", dir: "auto", text: message }));
      if (!input.value) input.value = question;  // to send again as it was
      fit();
      scrollDown();
    } finally {
      if (mine === epoch) {
        busy = false;
        sendBtn.disabled = false;
        log.removeAttribute("aria-busy");
        if (isOpen) input.focus();
      }
    }
  };

  // -- opening, closing, keyboard
  const show = (on) => {
    isOpen = on;
    panel.hidden = !on;
    root.classList.toggle("open", on);
    launcher.setAttribute("aria-expanded", on);
    relabel();
    save();
  };
  const open = () => {
    if (isOpen) return;
    show(true);
    learn();
    suggest();
    scrollDown();
    fit();
    input.focus();
  };
  const close = () => {
    if (!isOpen) return;
    show(false);
    launcher.focus();
  };
  const reset = () => {
    epoch++;
    busy = sendBtn.disabled = false;
    log.removeAttribute("aria-busy");
    items = [];
    save();
    setLanguage(config.language);
    renderAll();
    input.focus();
  };

  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
      return;
    }
    // Tab stays in the panel: the browser moves focus inside it (a scrolling passage it makes
    // focusable included); only its first (New conversation) and last (Send) stops wrap.
    if (event.key !== "Tab") return;
    const last = sendBtn.disabled ? input : sendBtn;
    const [from, to] = event.shiftKey ? [resetBtn, last] : [last, resetBtn];
    if (shadow.activeElement === from || !panel.contains(shadow.activeElement)) {
      event.preventDefault();
      to.focus();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(input.value);
  });
  input.addEventListener("input", () => fit());
  input.addEventListener("keydown", (event) => {
    // Shift+Enter adds a line; the Enter that ends an IME composition (229 in Safari) does not send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit(input.value);
    }
  });

  // -- start
  const start = () => {
    const saved = load();
    items = saved.items.filter((item) => item && (item.role === "user" ? typeof item.text === "string"
      : item.answer && typeof item.answer.answer === "string")).slice(-2 * MAX_TURNS);
    relabel();
    const last = items.filter((item) => item.role === "assistant").pop();
    setLanguage(last ? last.answer.language : config.language);
    renderAll();
    // It shows once it has the labels of the page's language and the conversation's (or after 2 s).
    const timeout = new Promise((done) => setTimeout(done, 2000));
    Promise.race([Promise.all([fetchStrings(config.language), fetchStrings(panel.lang)]), timeout]).then(() => {
      // Not in the body: a transformed body would hold a fixed element.
      document.documentElement.appendChild(host);
      pickContrast();
      if (config.open || saved.open) open();
      if (isOpen) input.focus();  // also when the page opened it meanwhile
    });
  };

  window.OmniKB = Object.freeze({
    version: VERSION,
    config: Object.freeze({ ...config }),
    open,
    close,
    toggle: () => (isOpen ? close() : open()),
    ask: (question) => { open(); return submit(question); },
    reset,
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})();
