/*
 * django-chatkit-backend's protocol console: chat with chatkit/api without the ChatKit widget.
 *
 * Vanilla JS, no dependencies, no build step. It speaks the same protocol as the widget
 * (JSON ops, and streaming ops answered as server-sent events) with the session cookie and
 * the CSRF token rendered into the page by {% chatkit_console %}. Model and user text is put
 * on the page only through textContent and DOM nodes, never as HTML.
 */
(function () {
  "use strict";

  if (window.ChatKitConsole) return; // the script was included twice

  // -- a small, safe markdown subset -----------------------------------------------------

  // Code spans, bold, italics and links (one level of parentheses inside a URL); anything
  // else stays text.
  const INLINE = /(`+)([^`]+?)\1|\*\*(.+?)\*\*|__(.+?)__|\*(?!\s)(.+?)\*|\b_(?!\s)(.+?)_\b|\[([^\]\n]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)/;

  function safeHref(href) {
    try {
      const url = new URL(href); // absolute URLs only
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function appendInline(parent, text) {
    let rest = text;
    while (rest) {
      const match = INLINE.exec(rest);
      if (!match) {
        appendLines(parent, rest);
        return;
      }
      if (match.index) appendLines(parent, rest.slice(0, match.index));
      rest = rest.slice(match.index + match[0].length);
      if (match[2] !== undefined) {
        parent.appendChild(element("code", match[2]));
      } else if (match[3] !== undefined || match[4] !== undefined) {
        appendInline(parent.appendChild(document.createElement("strong")), match[3] ?? match[4]);
      } else if (match[5] !== undefined || match[6] !== undefined) {
        appendInline(parent.appendChild(document.createElement("em")), match[5] ?? match[6]);
      } else {
        const href = safeHref(match[8]);
        if (href) {
          const link = parent.appendChild(element("a", match[7]));
          link.href = href;
          link.rel = "noopener noreferrer nofollow";
          link.target = "_blank";
        } else {
          parent.appendChild(document.createTextNode(match[7]));
        }
      }
    }
  }

  function appendLines(parent, text) {
    text.split("\n").forEach(function (line, index) {
      if (index) parent.appendChild(document.createElement("br"));
      if (line) parent.appendChild(document.createTextNode(line));
    });
  }

  const LIST_ITEM = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/;

  /** Paragraphs, fenced code, lists and headings (as bold lines) of `text`, as DOM nodes. */
  function renderMarkdown(text) {
    const fragment = document.createDocumentFragment();
    const lines = text.split(/\r?\n/);
    let paragraph = [];
    let list = null;

    function flush() {
      if (paragraph.length) appendInline(fragment.appendChild(element("p")), paragraph.join("\n"));
      paragraph = [];
      list = null;
    }

    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const fence = /^\s*(```|~~~)/.exec(line);
      if (fence) {
        flush();
        const code = [];
        for (i += 1; i < lines.length && !lines[i].trim().startsWith(fence[1]); i++) {
          code.push(lines[i]);
        }
        fragment.appendChild(element("pre")).appendChild(element("code", code.join("\n")));
        continue;
      }
      if (!line.trim()) {
        flush();
        continue;
      }
      const heading = /^\s*#{1,6}\s+(.*)$/.exec(line);
      if (heading) {
        flush();
        const p = fragment.appendChild(element("p"));
        appendInline(p.appendChild(document.createElement("strong")), heading[1]);
        continue;
      }
      const item = LIST_ITEM.exec(line);
      if (item) {
        if (paragraph.length) flush();
        const tag = item[1] ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== tag) list = fragment.appendChild(element(tag));
        appendInline(list.appendChild(element("li")), item[3]);
        continue;
      }
      if (list) flush();
      paragraph.push(line);
    }
    flush();
    return fragment;
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // -- talking to the endpoint -------------------------------------------------------------

  class HttpError extends Error {
    constructor(status, statusText, payload) {
      const detail = payload && (payload.error ? payload.error.message : payload.detail);
      let hint = "";
      if (status === 401) hint = " Log in again.";
      else if (status === 403 && /CSRF/.test(detail || "")) hint = " Reload the page for a fresh token.";
      super(`HTTP ${status}${statusText ? " " + statusText : ""}: ${detail || "the request failed."}${hint}`);
      this.status = status;
    }
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (error) {
      return null;
    }
  }

  /** The `data:` payloads of the complete frames in `buffer`, and what is left over. */
  function takeFrames(buffer) {
    const frames = [];
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const data = buffer
        .slice(0, end)
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5))
        .join("\n");
      if (data) frames.push(data);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
    }
    return [frames, buffer];
  }

  // -- the console --------------------------------------------------------------------------

  const SPEAKERS = { user_message: "You", assistant_message: "Assistant" };

  class ChatKitConsole {
    constructor(root) {
      this.root = root;
      this.parts = {};
      root.querySelectorAll("[data-ck]").forEach((node) => {
        this.parts[node.dataset.ck] = node;
      });
      this.threadId = null;
      this.items = new Map(); // item id -> {node, item}
      this.pending = []; // uploaded attachments for the next message: {id, name}
      this.controller = null; // the running stream's AbortController
      this.uploading = false; // a file is on its way: sending waits for it
      this.started = false;
      this.bind();
      const fallbackFor = root.dataset.fallbackFor;
      if (fallbackFor) this.showWith(document.getElementById(fallbackFor));
      else this.start();
    }

    // The API URL and CSRF token are read on every request, so a page may change them.
    get apiUrl() {
      return this.root.dataset.apiUrl;
    }

    headers(extra) {
      const headers = new Headers(extra);
      const token = this.root.dataset.csrfToken;
      if (token) headers.set("X-CSRFToken", token);
      return headers;
    }

    post(url, body, signal, contentType) {
      return fetch(url, {
        method: "POST",
        headers: this.headers(contentType ? { "Content-Type": contentType } : undefined),
        body,
        credentials: "same-origin",
        signal,
      });
    }

    async op(type, params) {
      const response = await this.post(this.apiUrl, JSON.stringify({ type, params }), undefined, "application/json");
      const payload = await readJson(response);
      if (!response.ok) throw new HttpError(response.status, response.statusText, payload);
      return payload;
    }

    bind() {
      const p = this.parts;
      p.composer.addEventListener("submit", (event) => {
        event.preventDefault();
        this.send();
      });
      p.message.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.send();
        }
      });
      this.root.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && this.controller) {
          event.preventDefault();
          this.stop();
        }
      });
      p.stop.addEventListener("click", () => this.stop());
      p["thread-select"].addEventListener("change", () => this.open(p["thread-select"].value));
      p.refresh.addEventListener("click", () => this.loadThreads());
      p["open-form"].addEventListener("submit", (event) => {
        event.preventDefault();
        const id = p["thread-id"].value.trim();
        if (id) this.open(id);
      });
      if (p.file) p.file.addEventListener("change", () => this.upload());
    }

    /** Stay hidden (sending nothing) until `target` is shown, then appear for good. */
    showWith(target) {
      const check = () => {
        if (target && !target.hidden && this.root.hidden) {
          this.root.hidden = false;
          this.start();
        }
      };
      if (target) new MutationObserver(check).observe(target, { attributes: true });
      check();
    }

    start() {
      if (this.started) return;
      this.started = true;
      this.loadThreads();
    }

    // -- status, errors and busy state --

    say(text) {
      this.parts.status.textContent = text;
    }

    fail(error) {
      const message = error instanceof Error ? error.message : String(error);
      this.parts.error.textContent = message;
      this.parts.error.hidden = false;
      this.say("");
    }

    clearError() {
      this.parts.error.hidden = true;
      this.parts.error.textContent = "";
    }

    setStreaming(streaming) {
      const stopHadFocus = document.activeElement === this.parts.stop;
      this.parts.send.disabled = streaming || this.uploading;
      this.parts.stop.disabled = !streaming;
      if (stopHadFocus) this.parts.message.focus(); // not lost on a disabled button
      // Screen readers announce the log's changes once the answer is complete, not per delta.
      this.parts.transcript.setAttribute("aria-busy", streaming ? "true" : "false");
    }

    // -- threads --

    async loadThreads() {
      this.clearError();
      try {
        const page = await this.op("threads.list", { limit: 50, order: "desc" });
        const select = this.parts["thread-select"];
        while (select.options.length > 1) select.remove(1);
        for (const thread of page.data) this.addThreadOption(thread);
        select.value = this.threadId && this.hasOption(this.threadId) ? this.threadId : "";
      } catch (error) {
        this.fail(error);
      }
    }

    hasOption(id) {
      return Array.from(this.parts["thread-select"].options).some((option) => option.value === id);
    }

    addThreadOption(thread, first) {
      const select = this.parts["thread-select"];
      let option = Array.from(select.options).find((candidate) => candidate.value === thread.id);
      if (!option) {
        option = element("option");
        option.value = thread.id;
        select.insertBefore(option, first ? select.options[1] || null : null);
      }
      option.textContent = thread.title ? `${thread.title} (${thread.id})` : thread.id;
    }

    async open(id) {
      if (this.controller) this.stop();
      this.clearError();
      this.clearTranscript();
      this.threadId = null;
      if (!id) {
        this.parts["thread-select"].value = "";
        this.say("New thread: your next message starts it.");
        return;
      }
      this.say(`Opening ${id}…`);
      try {
        const thread = await this.op("threads.get_by_id", { thread_id: id });
        const page = await this.op("items.list", { thread_id: id, limit: 100, order: "desc" });
        this.threadId = thread.id;
        this.addThreadOption(thread, true);
        this.parts["thread-select"].value = thread.id;
        for (const item of page.data.reverse()) this.renderItem(item);
        this.say(`Thread ${thread.id}: ${page.data.length} item(s)${page.has_more ? ", the latest shown" : ""}.`);
      } catch (error) {
        this.parts["thread-select"].value = "";
        this.fail(error);
      }
    }

    // -- the transcript --

    clearTranscript() {
      this.items.clear();
      const transcript = this.parts.transcript;
      transcript.replaceChildren(this.parts.empty);
      this.parts.empty.hidden = false;
    }

    renderItem(item) {
      if (item.type === "end_of_turn") return;
      let entry = this.items.get(item.id);
      if (!entry) {
        entry = { node: element("article") };
        this.items.set(item.id, entry);
        this.parts.empty.hidden = true;
      }
      entry.item = item;
      entry.texts = (item.content || []).map((part) => part.text || "");
      this.draw(entry);
    }

    /** (Re)build an item's node from its JSON, keeping the log scrolled to its end. */
    draw(entry) {
      const { node, item } = entry;
      const transcript = this.parts.transcript;
      const atEnd = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 60;
      node.className = "ck-message";
      node.dataset.itemId = item.id;
      node.dataset.type = item.type;
      const speaker = element("div", SPEAKERS[item.type] || item.type.replace(/_/g, " "), "ck-speaker");
      const body = element("div", undefined, "ck-body");
      if (item.type === "assistant_message") {
        body.appendChild(renderMarkdown(entry.texts.join("\n\n")));
      } else if (item.type === "user_message") {
        node.classList.add("ck-user");
        const text = item.content.map((part) => (part.type === "input_tag" ? `@${part.text}` : part.text));
        body.appendChild(element("div", text.join(" "), "ck-plain"));
        const names = (item.attachments || []).map((attachment) => attachment.name);
        if (names.length) body.appendChild(element("div", `Attached: ${names.join(", ")}`, "ck-note"));
      } else {
        node.classList.add("ck-other");
        body.textContent = describe(item);
      }
      node.replaceChildren(speaker, body);
      if (entry.stopped) node.appendChild(element("div", "Stopped: the answer so far is kept.", "ck-note"));
      if (!node.isConnected) transcript.appendChild(node);
      if (atEnd) transcript.scrollTop = transcript.scrollHeight;
    }

    // -- sending and streaming --

    async send() {
      const text = this.parts.message.value.trim();
      if (this.controller || this.uploading) return;
      if (!text) {
        this.fail("Write a message first.");
        this.parts.message.focus();
        return;
      }
      const input = {
        content: [{ type: "input_text", text }],
        attachments: this.pending.map((attachment) => attachment.id),
        inference_options: {},
      };
      const ok = this.threadId
        ? await this.stream("threads.add_user_message", { thread_id: this.threadId, input })
        : await this.stream("threads.create", { input });
      if (ok) {
        this.parts.message.value = "";
        this.pending = [];
        this.drawAttachments();
      }
    }

    stop() {
      if (this.controller) this.controller.abort();
    }

    /** Run one streaming op; true once the server accepted it (status 200). */
    async stream(type, params) {
      this.clearError();
      this.resetEvents();
      const controller = (this.controller = new AbortController());
      this.setStreaming(true);
      this.say("Waiting for the answer…");
      const started = performance.now();
      let accepted = false;
      let firstEvent = null;
      let count = 0;
      let failed = false;
      try {
        const response = await this.post(this.apiUrl, JSON.stringify({ type, params }), controller.signal, "application/json");
        if (!response.ok) throw new HttpError(response.status, response.statusText, await readJson(response));
        accepted = true;
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          let frames;
          [frames, buffer] = takeFrames(buffer + decoder.decode(value, { stream: true }));
          for (const data of frames) {
            const elapsed = performance.now() - started;
            if (firstEvent === null) firstEvent = elapsed;
            count += 1;
            let event;
            try {
              event = JSON.parse(data);
            } catch (error) {
              event = { type: "(not JSON)", data };
            }
            this.logEvent(event, elapsed, count);
            if (this.handle(event)) failed = true;
          }
          this.showTimings(firstEvent, null, count);
        }
        if (!failed) this.say(`Answered in ${ms(performance.now() - started)}.`);
      } catch (error) {
        if (error.name === "AbortError") {
          this.markStopped();
          this.say("Stopped: the answer so far is kept, and you can send the next message.");
        } else {
          this.fail(error);
        }
      } finally {
        this.showTimings(firstEvent, performance.now() - started, count);
        this.controller = null;
        this.setStreaming(false);
      }
      return accepted;
    }

    /** Apply one event to the page; true when it was an error event. */
    handle(event) {
      switch (event.type) {
        case "thread.created":
          this.threadId = event.thread.id;
          this.addThreadOption(event.thread, true);
          this.parts["thread-select"].value = event.thread.id;
          break;
        case "thread.updated":
          this.addThreadOption(event.thread);
          break;
        case "thread.item.added":
        case "thread.item.done":
        case "thread.item.replaced":
          this.renderItem(event.item);
          if (event.item.type === "assistant_message") this.streamingId = event.item.id;
          if (event.type === "thread.item.added") this.say("The assistant is answering…");
          break;
        case "thread.item.updated":
          this.update(event.item_id, event.update);
          break;
        case "thread.item.removed": {
          const entry = this.items.get(event.item_id);
          if (entry) entry.node.remove();
          this.items.delete(event.item_id);
          break;
        }
        case "progress_update":
          this.say(event.text);
          break;
        case "notice":
          if (event.level === "danger") this.fail(noticeText(event));
          else this.say(noticeText(event));
          break;
        case "error":
          this.fail(`Error from the server: ${event.message || event.code || "the answer failed."}`);
          return true;
        default:
          break; // stream_options, client_effect: shown in the raw events only
      }
      return false;
    }

    update(itemId, update) {
      const entry = this.items.get(itemId);
      if (!entry || !update) return;
      const index = update.content_index;
      switch (update.type) {
        case "assistant_message.content_part.added":
        case "assistant_message.content_part.done":
          entry.texts[index] = (update.content && update.content.text) || "";
          break;
        case "assistant_message.content_part.text_delta":
          entry.texts[index] = (entry.texts[index] || "") + update.delta;
          break;
        default:
          return;
      }
      this.draw(entry);
    }

    markStopped() {
      const entry = this.streamingId && this.items.get(this.streamingId);
      if (entry) {
        entry.stopped = true;
        this.draw(entry);
      }
    }

    // -- the raw events pane --

    resetEvents() {
      this.streamingId = null;
      this.parts.events.replaceChildren();
      this.parts["event-count"].textContent = "0";
    }

    logEvent(event, elapsed, count) {
      const item = element("li");
      const details = item.appendChild(element("details"));
      const summary = details.appendChild(element("summary"));
      summary.appendChild(element("time", `+${ms(elapsed)}`));
      summary.appendChild(document.createTextNode(` ${event.type}`));
      details.appendChild(element("pre", JSON.stringify(event, null, 2)));
      this.parts.events.appendChild(item);
      this.parts["event-count"].textContent = String(count);
    }

    showTimings(firstEvent, total, count) {
      const first = firstEvent === null ? "no event yet" : `first event after ${ms(firstEvent)}`;
      const end = total === null ? "streaming…" : `total ${ms(total)}`;
      this.parts.timings.textContent = `${count} event(s); ${first}; ${end}.`;
    }

    // -- attachments (direct upload, like the widget's "direct" upload strategy) --

    async upload() {
      const input = this.parts.file;
      const file = input.files && input.files[0];
      if (!file) return;
      this.clearError();
      const maxBytes = Number(input.dataset.maxBytes || 0);
      try {
        if (maxBytes && file.size > maxBytes) {
          throw new Error(`${file.name} is larger than the ${maxBytes} bytes allowed.`);
        }
        this.say(`Uploading ${file.name}…`);
        this.uploading = this.parts.send.disabled = true;
        const form = new FormData();
        form.append("file", file, file.name);
        const response = await this.post(this.root.dataset.uploadUrl, form);
        const payload = await readJson(response);
        if (!response.ok) throw new HttpError(response.status, response.statusText, payload);
        this.pending.push({ id: payload.id, name: payload.name });
        this.drawAttachments();
        this.say(`${payload.name} is attached to your next message.`);
      } catch (error) {
        this.fail(error);
      } finally {
        input.value = "";
        this.uploading = false;
        this.parts.send.disabled = Boolean(this.controller);
      }
    }

    drawAttachments() {
      const list = this.parts.attachments;
      list.replaceChildren();
      for (const attachment of this.pending) {
        const item = list.appendChild(element("li", attachment.name));
        const remove = item.appendChild(element("button", "×"));
        remove.type = "button";
        remove.setAttribute("aria-label", `Remove ${attachment.name}`);
        remove.addEventListener("click", () => this.detach(attachment));
      }
    }

    async detach(attachment) {
      this.pending = this.pending.filter((candidate) => candidate !== attachment);
      this.drawAttachments();
      this.parts.message.focus();
      try {
        await this.op("attachments.delete", { attachment_id: attachment.id });
      } catch (error) {
        this.fail(error);
      }
    }
  }

  function describe(item) {
    switch (item.type) {
      case "client_tool_call":
        return `Client tool call ${item.name} (${item.status})`;
      case "workflow":
        return `Workflow: ${(item.workflow && item.workflow.tasks ? item.workflow.tasks.length : 0)} task(s)`;
      case "task":
        return `Task: ${(item.task && (item.task.title || item.task.content)) || item.task?.type || ""}`;
      case "widget":
        return "A widget (the console does not draw widgets).";
      default:
        return `A ${item.type.replace(/_/g, " ")} item.`;
    }
  }

  function noticeText(event) {
    return event.title ? `${event.title}: ${event.message}` : event.message;
  }

  function ms(value) {
    return `${Math.round(value)} ms`;
  }

  function init() {
    document.querySelectorAll("[data-chatkit-console]").forEach(function (root) {
      if (!root.chatkitConsole) root.chatkitConsole = new ChatKitConsole(root);
    });
  }

  window.ChatKitConsole = ChatKitConsole;
  ChatKitConsole.renderMarkdown = renderMarkdown;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
