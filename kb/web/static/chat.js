// omnikb chat page: [n] markers open their passage; "open the whole article" shows
// the cleaned document from the API. Text is only ever inserted with textContent.
(function () {
  "use strict";

  // Smooth scrolling, unless the reader asked for less motion.
  function scrolling() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
  }

  function questionBox() { return document.querySelector("#kb-question textarea"); }

  // The [n] marker that opened the passage now shown, to go back to (by its link if Gradio redrew it).
  var opener = null;

  // A marker opens its passage and takes the focus to it (a keyboard or screen reader user got
  // nothing, and a phone was scrolled far down with no way back): the card says it is there, and
  // its "Back to the answer" button (or Escape) returns to the marker.
  function showPassage(id, marker) {
    var card = document.getElementById(id);
    if (!card) return false;
    var section = card.closest("section.kb-turn");
    if (section) {
      document.querySelectorAll("section.kb-turn").forEach(function (s) { s.hidden = s !== section; });
    }
    document.querySelectorAll(".kb-citation.kb-active").forEach(function (c) { c.classList.remove("kb-active"); });
    document.querySelectorAll("#kb-sources .kb-back").forEach(function (b) { b.remove(); });
    card.classList.add("kb-active");
    opener = { marker: marker || null, href: "#" + id };
    var words = pageWords();
    var back = document.createElement("button");
    back.type = "button";
    back.className = "kb-back";
    back.textContent = words.back;
    back.setAttribute("lang", words.lang || "en");
    back.setAttribute("dir", words.dir || "ltr");
    var header = card.querySelector("header");
    if (header) header.after(back); else card.prepend(back);
    card.setAttribute("tabindex", "-1");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", behavior: scrolling() });
    return true;
  }

  // Back from a passage to the marker that opened it (or to the question box, if it is gone).
  function backToAnswer() {
    var marker = opener && opener.marker;
    if (!marker || !marker.isConnected) {
      var links = opener ? document.querySelectorAll("#kb-chat a.kb-marker") : [];
      marker = Array.prototype.filter.call(links, function (a) { return a.getAttribute("href") === opener.href; })[0];
    }
    var target = marker || questionBox();
    if (!target) return;
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "center", behavior: scrolling() });
  }

  // The language the page's labels speak now, as the sources panel says it (the server
  // renders the panel in the asker's language): the page's own lang follows it, and so
  // does the question box's placeholder direction and the article window's close label.
  function pageWords() {
    var panel = document.querySelector(".kb-sources[lang]");
    return {
      lang: panel ? panel.getAttribute("lang") : "",
      dir: panel ? panel.getAttribute("data-dir") : "ltr",
      close: (panel && panel.getAttribute("data-close")) || "Close",
      back: (panel && panel.getAttribute("data-back")) || "Back to the answer",
      toasts: {
        info: panel && panel.getAttribute("data-toast-info"),
        warning: panel && panel.getAttribute("data-toast-warning"),
        error: panel && panel.getAttribute("data-toast-error")
      },
      notice: function (key) { return panel && panel.getAttribute("data-" + key); }
    };
  }

  // Gradio's own notices the chat can meet, in English whatever the page speaks (Gradio 6 has
  // no translation of them): the panel's attribute that says each in the page's words.
  var GRADIO_NOTICES = [
    ["Connection to the server was lost. Attempting reconnection...", "connection-lost"],
    ["Connection errored out.", "connection-error"],
    ["Could not parse server response", "connection-error"],  // a proxy's error page, say; the reason follows
    ["This application is currently busy. Please try again.", "server-busy"],
    ["An error occurred.", "error-occurred"],
    ["An Unexpected Error Occurred!", "error-occurred"]
  ];

  // Gradio still draws the notice: only its nodes' text changes. The first says the page's words,
  // what follows (a proxy's error page, quoted in the reason) is emptied or hidden.
  function sayNotices(words) {
    document.querySelectorAll("[data-testid='toast-text']").forEach(function (message) {
      var text = message.firstChild;
      if (!text || text.nodeType !== Node.TEXT_NODE) return;
      var said = text.nodeValue.trim();
      var known = GRADIO_NOTICES.filter(function (n) { return said === n[0] || said.indexOf(n[0] + ":") === 0; })[0];
      var word = known && words.notice(known[1]);
      if (!word) {
        // The chat's own notice, in its own words: it reads in their direction ("اكتب سؤالاً أولاً.").
        if (!message.hasAttribute("dir")) message.setAttribute("dir", "auto");
        return;
      }
      text.nodeValue = word;
      for (var node = text.nextSibling; node; node = node.nextSibling) {
        if (node.nodeType === Node.TEXT_NODE) node.nodeValue = "";
        else if (node instanceof HTMLElement) node.hidden = true;
      }
      message.setAttribute("lang", words.lang);
      message.setAttribute("dir", words.dir);
    });
    document.querySelectorAll("[data-testid='toast-close']").forEach(function (close) {
      if (close.getAttribute("aria-label") !== words.close) close.setAttribute("aria-label", words.close);
    });
  }

  // Gradio 6 titles its notices by their kind, in English ("Warning"), whatever title the
  // server gave: they take the page's words. Only the title's own text changes (not its count).
  function titleToasts(words) {
    document.querySelectorAll("[data-testid='toast-body'] .toast-title").forEach(function (title) {
      var kind = ["info", "warning", "error", "success"].filter(function (k) { return title.classList.contains(k); })[0];
      var word = kind && words.toasts[kind];
      var text = title.firstChild;
      if (!word || !text || text.nodeType !== Node.TEXT_NODE || text.nodeValue === word + " ") return;
      text.nodeValue = word + " ";
      title.setAttribute("lang", words.lang);
    });
  }

  // The question being answered: if the connection dies meanwhile (Gradio says so in an
  // error notice), it goes back in the emptied box, to be sent again.
  var asked = "";

  function remember() {
    var box = questionBox();
    if (box && box.value.trim()) asked = box.value;
  }

  function giveBack() {
    var box = document.querySelector("#kb-question textarea");
    var streaming = document.querySelector("#kb-chat .kb-streaming");
    if (!asked || !box || box.value || !streaming || !document.querySelector("[data-testid='toast-body'].error")) return;
    box.value = asked;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    asked = "";
  }

  function followPanel() {
    var words = pageWords();
    var root = document.documentElement;
    if (!words.lang || (root.lang === words.lang && root.dir === words.dir)) return;
    root.lang = words.lang;
    // The whole page is laid out in the labels' direction (an Arabic page from the right).
    root.dir = words.dir;
    root.setAttribute("data-kb-dir", words.dir);
    var close = document.querySelector("#kb-article .kb-close");
    if (close) close.setAttribute("aria-label", words.close);
  }

  // Gradio's sanitizer drops aria-busy from the chat's HTML: text still coming in is marked busy here
  // (the whole answer that replaces it is a new element, without it).
  function markBusy() {
    document.querySelectorAll("#kb-chat .kb-streaming:not([aria-busy])").forEach(function (el) {
      el.setAttribute("aria-busy", "true");
    });
  }

  new MutationObserver(function () {
    markBusy();
    followPanel();
    var words = pageWords();
    titleToasts(words);
    sayNotices(words);
    giveBack();
  }).observe(document.documentElement, { childList: true, subtree: true });

  document.addEventListener("keydown", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (event.key === "Enter" && !event.shiftKey && target && target.closest("#kb-question")) remember();
    if (event.key === "Escape" && target && target.closest("#kb-sources .kb-citation.kb-active")) {
      event.preventDefault();
      backToAnswer();
    }
  }, true);

  function dialog() {
    var box = document.getElementById("kb-article");
    if (box) return box;
    box = document.createElement("dialog");
    box.id = "kb-article";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "kb-close";
    close.textContent = "×";
    close.setAttribute("aria-label", pageWords().close);
    close.addEventListener("click", function () { box.close(); });
    // The window is named by its title (the article's).
    var title = document.createElement("h2");
    title.id = "kb-article-title";
    box.setAttribute("aria-labelledby", title.id);
    var body = document.createElement("div");
    body.className = "kb-article-text";
    box.append(close, title, body);
    document.body.appendChild(box);
    return box;
  }

  function openArticle(button) {
    var source = button.getAttribute("data-source");
    var start = parseInt(button.getAttribute("data-start"), 10);
    var end = parseInt(button.getAttribute("data-end"), 10);
    var url = new URL("api/sources/" + encodeURIComponent(source), document.baseURI);
    fetch(url).then(function (r) { return r.json().then(function (data) { return [r.ok, data]; }); })
      .then(function (result) {
        var ok = result[0], data = result[1];
        var box = dialog();
        var title = box.querySelector("h2");
        var body = box.querySelector(".kb-article-text");
        body.replaceChildren();
        if (!ok) {
          title.textContent = (data.error && data.error.message) || "Error";
          box.showModal();
          return;
        }
        title.textContent = data.title;
        // The article runs in the direction of its passage's card (the server sets it), else its text's own.
        var card = button.closest("[data-source][dir]");
        box.setAttribute("dir", card ? card.getAttribute("dir") : "auto");
        box.setAttribute("lang", data.language);
        box.setAttribute("data-source", data.source);
        var text = data.text;
        var mark = document.createElement("mark");
        mark.textContent = text.slice(start, end);
        body.append(document.createTextNode(text.slice(0, start)), mark, document.createTextNode(text.slice(end)));
        box.showModal();
        mark.scrollIntoView({ block: "center" });
      })
      .catch(function (err) { console.error("omnikb: cannot open the article", err); });
  }

  // The chat's copy button copied the bubble's HTML ("<div class=\"kb-answer\"…"): it copies
  // what the reader sees, the text with its [n] markers.
  function copyShown(button) {
    // A message's buttons follow its bubble in the chat (Gradio 6): the bubble is the
    // element before the buttons' group. Anything else is left to Gradio.
    var group = button.closest("[class*='message-buttons']");
    var bubble = group && group.previousElementSibling;
    var shown = bubble && bubble.querySelector(".kb-answer, .kb-question, .kb-error");
    if (!shown || !navigator.clipboard) return false;
    navigator.clipboard.writeText(shown.innerText.trim());
    return true;
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    // Ask is off while the answer comes, and a button turned off loses the focus (to the page's body):
    // the focus goes to the question box, as it does when a question is sent with Enter. So it does
    // when an example question is chosen: it is in the box, to ask or to change.
    if (target.closest("#kb-ask")) {
      remember();
      if (questionBox()) questionBox().focus();
    }
    if (target.closest("#kb-examples button") && questionBox()) questionBox().focus();
    if (target.closest("#kb-sources .kb-back")) {
      event.preventDefault();
      backToAnswer();
      return;
    }
    var copy = target.closest("#kb-chat button");
    if (copy && /copy/i.test((copy.getAttribute("aria-label") || "") + " " + (copy.getAttribute("title") || ""))) {
      if (copyShown(copy)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
      return;
    }
    var marker = target.closest("a.kb-marker, a[href^='#kb-src-']");
    if (marker) {
      var id = (marker.getAttribute("href") || "").slice(1);
      if (showPassage(id, marker)) {
        event.preventDefault();
        event.stopPropagation();
      }
      return;
    }
    var open = target.closest("button.kb-open");
    if (open) {
      event.preventDefault();
      openArticle(open);
    }
  }, true);
})();
