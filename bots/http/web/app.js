// qa-bot chat page: plain JavaScript, no dependencies. All article text goes in as text nodes.
"use strict";

(function () {
  const MORE_COUNT = 3;
  const KEY_STORAGE = "qa-bot.api-key";

  const log = document.getElementById("log");
  const intro = document.getElementById("intro");
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const askButton = document.getElementById("ask-button");
  const status = document.getElementById("form-status");
  const newChat = document.getElementById("new-chat");
  const keyDialog = document.getElementById("key-dialog");
  const keyInput = document.getElementById("api-key");
  const WORDS = document.body.dataset;  // the core's words, put on the page by the server
  // The server's QA_MAX_QUESTION_CHARS. No maxlength on the box: it would cut a pasted question
  // silently; a longer one stays whole and is not sent (0: unknown, the server's 422 tells).
  const MAX_QUESTION_CHARS = Number(WORDS.maxQuestionChars) || 0;
  const UNREACHABLE = "The server could not be reached: check that it is running, then try again.";
  const NEEDS_KEY = "This server needs an API key to answer: send the question again to enter it.";

  let conversationId = null;
  let busy = false;

  /** An element with a class and optional text content (never parsed as HTML). */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /** Split a string at code-point offsets (the API counts code points, JavaScript UTF-16 units). */
  function splitAtCodePoints(text, start, end) {
    const points = Array.from(text);
    return [
      points.slice(0, start).join(""),
      points.slice(start, end).join(""),
      points.slice(end).join(""),
    ];
  }

  /** The passage with the answer sentence marked, and the answer span inside it emphasised. */
  function renderPassage(answer) {
    const quote = el("blockquote", "passage");
    const passage = answer.passage || answer.text;
    // The sentence is quoted verbatim from the passage; without a match, show it alone.
    const at = passage.indexOf(answer.text);
    const sentence = answer.text;
    const before = at >= 0 ? passage.slice(0, at) : "";
    const after = at >= 0 ? passage.slice(at + answer.text.length) : "";
    const mark = el("mark", "sentence");
    if (Array.isArray(answer.span) && answer.span.length === 2) {
      const [head, span, tail] = splitAtCodePoints(sentence, answer.span[0], answer.span[1]);
      mark.append(head, el("strong", "span", span), tail);
    } else {
      mark.append(sentence);
    }
    quote.append(before, mark, after);
    return quote;
  }

  function formatDate(iso) {
    const day = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    if (!day) return null;
    const date = new Date(Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])));
    if (Number.isNaN(date.getTime())) return null;
    return date.toLocaleDateString(undefined, {
      year: "numeric", month: "long", day: "numeric", timeZone: "UTC",
    });
  }

  function isWebLink(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url);
  }

  /** Title, place (a wire story's dateline), date and source of an answer's article. */
  function renderMeta(article) {
    const meta = el("p", "meta");
    const title = el("cite", "title", article.title || "Untitled");
    meta.append(title);
    if (article.place) {
      meta.append(el("span", "sep", "·"), el("span", "place", article.place));
    }
    const shown = formatDate(article.published);
    if (shown) {
      const time = el("time", "date", shown);
      time.dateTime = article.published;
      meta.append(el("span", "sep", "·"), time);
    }
    meta.append(el("span", "sep", "·"));
    if (isWebLink(article.url)) {
      const link = el("a", "source", article.source || article.url);
      link.href = article.url;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      meta.append(link);
    } else {
      meta.append(el("span", "source", "Source: " + (article.source || "unknown")));
    }
    return meta;
  }

  /** How sure the answer is: the core's word for its score, and a bar of the score itself. */
  function renderConfidence(answer) {
    const level = answer.confidence || "unsure";
    const line = el("p", "confidence " + level);
    const bar = el("meter");
    bar.min = 0;
    bar.max = 1;
    bar.low = 0.4;
    bar.high = 0.7;
    bar.optimum = 1;
    bar.value = Number(answer.score) || 0;
    bar.setAttribute("aria-hidden", "true");
    line.append(bar, el("span", "confidence-label", level));
    line.title = "Answer score " + (Number(answer.score) || 0).toFixed(2);
    return line;
  }

  function renderAnswer(answer, number) {
    const card = el("article", "answer");
    const heading = el("h3");
    heading.append(el("span", "answer-number", number + "."));
    const short = Array.isArray(answer.span)
      ? splitAtCodePoints(answer.text, answer.span[0], answer.span[1])[1]
      : answer.text;
    heading.append(short);
    card.setAttribute("aria-label", "Answer " + number + ", " + (answer.confidence || "unsure"));
    card.append(heading, renderConfidence(answer), renderPassage(answer), renderMeta(answer.article));
    if (Array.isArray(answer.also_in) && answer.also_in.length) card.append(renderCopies(answer.also_in));
    card.append(renderVotes(number));
    return card;
  }

  /** 👍 / 👎 for one answer of the last reply (POST /feedback); older replies' buttons are retired.
   *  The vote given stays marked (aria-pressed); a failed one can be given again. */
  function renderVotes(number) {
    const row = el("p", "votes");
    [["up", "👍", "Good answer"], ["down", "👎", "Wrong answer"]].forEach(([vote, mark, label]) => {
      const button = el("button", "vote secondary", mark);
      button.type = "button";
      button.setAttribute("aria-label", label + " (answer " + number + ")");
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", async () => {
        const buttons = row.querySelectorAll("button");
        buttons.forEach((b) => { b.disabled = true; });
        row.querySelectorAll(".vote-note").forEach((note) => note.remove());
        try {
          await post("/feedback", { conversation_id: conversationId, answer: number, vote });
          button.setAttribute("aria-pressed", "true");
          row.append(el("span", "vote-note", "Thanks for the feedback."));
        } catch (error) {
          row.append(el("span", "vote-note error", error.message));
          // Only the last reply's answers can be voted on: an older one's buttons stay retired.
          if (row.closest("li") === log.lastElementChild) buttons.forEach((b) => { b.disabled = false; });
        }
      });
      row.append(button);
    });
    return row;
  }

  /** The other copies of an answer's story: title and date of each. */
  function renderCopies(copies) {
    const line = el("p", "meta also-in", "Also in: ");
    copies.forEach((copy, i) => {
      if (i) line.append("; ");
      line.append(el("cite", "title", copy.title || copy.source));
      const shown = formatDate(copy.published);
      if (shown) line.append(" (" + shown + ")");
    });
    return line;
  }

  function notice(text, kind) {
    const node = el("p", "notice" + (kind ? " " + kind : ""), text);
    if (kind === "error") node.setAttribute("role", "alert");
    return node;
  }

  function authHeaders() {
    const key = sessionStorage.getItem(KEY_STORAGE);
    return key ? { Authorization: "Bearer " + key } : {};
  }

  /** Ask the person for the API key; resolves true when one was given. */
  function promptForKey() {
    return new Promise((resolve) => {
      keyInput.value = "";
      keyDialog.addEventListener("close", function onClose() {
        keyDialog.removeEventListener("close", onClose);
        const key = keyInput.value.trim();
        if (keyDialog.returnValue === "save" && key) {
          sessionStorage.setItem(KEY_STORAGE, key);
          resolve(true);
        } else {
          resolve(false);
        }
      });
      keyDialog.showModal();
    });
  }

  /** POST JSON (or nothing) and return the parsed reply; throws Error with the API's message. */
  async function post(path, body) {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const headers = Object.assign({ Accept: "application/json" }, authHeaders());
      if (body !== undefined) headers["Content-Type"] = "application/json";
      let response;
      try {
        response = await fetch(path, {
          method: "POST",
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (_) {  // no answer at all: the browser's own words ("Failed to fetch") say nothing useful
        throw new Error(UNREACHABLE);
      }
      let data = null;
      try { data = await response.json(); } catch (_) { data = null; }
      if (response.ok) return data;
      if (response.status === 401 && attempt === 0) {
        if (await promptForKey()) continue;
        // The dialog was closed without a key: the API's words ("send 'Authorization: Bearer'") are
        // for programs, not for someone at this page.
        throw new Error(NEEDS_KEY);
      }
      const message = data && data.error && data.error.message
        ? data.error.message
        : "The server answered " + response.status + ".";
      throw new Error(message);
    }
    throw new Error("An API key is needed.");
  }

  function scrollIntoView(node) {
    const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    node.scrollIntoView({ behavior: smooth ? "smooth" : "auto", block: "nearest" });
  }

  function retireMoreButtons() {
    log.querySelectorAll("button.more").forEach((button) => button.remove());
  }

  function addMoreButton(reply, list) {
    const button = el("button", "more secondary", "More answers");
    button.type = "button";
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "Loading…";
      try {
        const data = await post(
          "/conversations/" + encodeURIComponent(conversationId) + "/more?count=" + MORE_COUNT);
        const first = list.childElementCount + 1;
        data.answers.forEach((answer, i) => list.append(renderAnswer(answer, first + i)));
        if (!data.answers.length || data.remaining <= 0) {
          button.replaceWith(notice(data.answers.length
            ? "That is every answer to this question."
            : WORDS.noMore));
        } else {
          button.disabled = false;
          button.textContent = "More answers";
        }
        if (data.answers.length) scrollIntoView(list.children[first - 1]);
      } catch (error) {
        button.replaceWith(notice(error.message, "error"));
      }
    });
    reply.append(button);
  }

  async function ask(question) {
    busy = true;
    askButton.disabled = true;
    status.textContent = "";
    intro.hidden = true;
    retireMoreButtons();

    const turn = el("li", "turn-question");
    turn.append(el("span", "visually-hidden", "You asked: "), question);
    const reply = el("li", "turn-reply");
    const pending = notice("Searching the archive…", "pending");
    reply.setAttribute("aria-busy", "true");
    reply.append(pending);
    log.append(turn, reply);
    scrollIntoView(reply);

    try {
      const body = { question };
      if (conversationId) body.conversation_id = conversationId;
      log.querySelectorAll("button.vote").forEach((b) => { b.disabled = true; });
      const data = await post("/ask", body);
      conversationId = data.conversation_id;
      pending.remove();
      if (data.nothing_new) {
        reply.append(notice(WORDS.nothingNew));
      } else if (!data.answers.length) {
        reply.append(notice(data.not_found));  // the core's words, as in the CLI and Telegram
      } else {
        const list = el("div", "answers");
        data.answers.forEach((answer, i) => list.append(renderAnswer(answer, i + 1)));
        reply.append(list);
        if (data.remaining > 0) addMoreButton(reply, list);
      }
    } catch (error) {
      pending.remove();
      reply.append(notice(error.message, "error"));
      if (!input.value.trim()) input.value = question;  // back in the box, to send again
    } finally {
      reply.removeAttribute("aria-busy");
      busy = false;
      askButton.disabled = false;
      scrollIntoView(reply);
    }
  }

  /** What is wrong with the question's length (in code points, as the server counts), or null. */
  function lengthProblem(question) {
    const length = Array.from(question).length;
    if (!MAX_QUESTION_CHARS || length <= MAX_QUESTION_CHARS) return null;
    return "The question is longer than " + MAX_QUESTION_CHARS + " characters (it has " + length + ").";
  }

  // Said once when the question grows past the limit (not at each key), taken back below it.
  input.addEventListener("input", () => {
    const problem = lengthProblem(input.value.trim());
    const flagged = input.getAttribute("aria-invalid") === "true";
    if (problem && !flagged) {
      input.setAttribute("aria-invalid", "true");
      status.textContent = problem;
    } else if (!problem && flagged) {
      input.removeAttribute("aria-invalid");
      status.textContent = "";
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) {
      status.textContent = "Type a question first.";
      input.focus();
      return;
    }
    const problem = lengthProblem(question);
    if (problem) {
      status.textContent = problem;  // the question stays in the box, whole, to be shortened
      input.focus();
      return;
    }
    if (busy) return;
    input.value = "";
    ask(question).finally(() => input.focus());
  });

  newChat.addEventListener("click", () => {
    conversationId = null;
    log.replaceChildren();
    intro.hidden = false;
    status.textContent = "";
    input.focus();
  });

  /** Introduce the archive with one of its own titles (quietly: no key prompt before a question). */
  async function introduceArchive() {
    try {
      const response = await fetch("/archive", { headers: Object.assign({ Accept: "application/json" }, authHeaders()) });
      if (!response.ok) return;
      const data = await response.json();
      if (!data.example_title) return;
      const example = el("q", "example", data.example_title);
      intro.replaceChildren(
        "Ask a question about the " + data.articles + " articles of the archive, for example about ",
        example,
        ". Follow-up questions continue the conversation.");
    } catch (_) {
      // The generic introduction stays.
    }
  }

  introduceArchive();
  input.focus();
})();
