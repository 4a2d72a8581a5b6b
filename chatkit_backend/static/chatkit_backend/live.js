/* The live socket (chatkit/ws) for a page with <openai-chatkit>: keeps the page up to date
 * with changes made elsewhere (another tab, an operator, server code, a run that finished
 * after a reload).
 *
 *   const live = ChatKitLive.connect({
 *     element: document.querySelector("openai-chatkit"),
 *     token: () => localStorage.getItem("token"),   // optional: a SimpleJWT access token
 *     refreshHistory: () => { ... },                 // optional: another thread changed
 *     onStatus: (state) => { ... },                  // "connecting" | "connected" | "reconnecting" | "offline"
 *   });
 *
 * - A notice about the thread on screen calls the widget's fetchUpdates() (after the answer
 *   being streamed ends, if one is); a notice about another thread calls refreshHistory().
 * - The session cookie authenticates a same-origin page; with token(), its value is sent as
 *   the first frame (never in the URL).
 * - A dropped socket reconnects with exponential backoff (0.5 s doubling to 15 s, with
 *   jitter), and catches up (fetchUpdates + refreshHistory) once it is back.
 * - live.stop(threadId) tells the server the user pressed stop (call it when the widget's
 *   request is aborted while the page lives on; ignored while the page is being left).
 */
(function (global) {
  "use strict";

  function defaultUrl() {
    const scheme = global.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${global.location.host}/chatkit/ws`;
  }

  function connect(options) {
    const el = options.element;
    const url = options.url || defaultUrl();
    const token = options.token || function () { return null; };
    const refreshHistory = options.refreshHistory || function () {};
    const onStatus = options.onStatus || function () {};
    const initialDelay = options.initialDelay || 500;
    const maxDelay = options.maxDelay || 15000;

    let socket = null;
    let delay = initialDelay;
    let timer = null;
    let closed = false;
    let everReady = false;
    let currentThread = null;
    let responding = false;
    let pendingUpdate = false;
    const live = { status: "connecting", socket: null };

    function setStatus(state) {
      live.status = state;
      onStatus(state);
    }

    function update() {
      if (responding) {
        pendingUpdate = true;  // the widget is streaming this thread: fetch when it ends
        return;
      }
      if (typeof el.fetchUpdates === "function") el.fetchUpdates();
    }

    el.addEventListener("chatkit.thread.change", function (event) {
      currentThread = (event.detail && event.detail.threadId) || null;
    });
    el.addEventListener("chatkit.response.start", function () { responding = true; });
    el.addEventListener("chatkit.response.end", function () {
      responding = false;
      if (pendingUpdate) {
        pendingUpdate = false;
        update();
      }
    });

    function onNotice(frame) {
      if (frame.thread_id === currentThread && frame.reason !== "deleted") update();
      else refreshHistory(frame);
    }

    function reconnectLater() {
      setStatus("reconnecting");
      const wait = delay * (0.8 + Math.random() * 0.4);
      delay = Math.min(delay * 2, maxDelay);
      timer = global.setTimeout(open, wait);
    }

    function open() {
      timer = null;
      if (closed) return;
      let ws;
      try {
        ws = new global.WebSocket(url);
      } catch (error) {
        reconnectLater();
        return;
      }
      socket = live.socket = ws;
      ws.onopen = function () {
        const value = token();
        if (value) ws.send(JSON.stringify({ type: "auth", token: value }));
      };
      ws.onmessage = function (message) {
        let frame;
        try {
          frame = JSON.parse(message.data);
        } catch (error) {
          return;
        }
        if (frame.type === "ready") {
          delay = initialDelay;
          const caughtUp = everReady;
          everReady = true;
          setStatus("connected");
          if (caughtUp) {  // notices may have been missed while the socket was down
            update();
            refreshHistory(null);
          }
        } else if (frame.type === "thread.changed") {
          onNotice(frame);
        }
      };
      ws.onclose = function (event) {
        if (socket !== ws || closed) return;
        socket = live.socket = null;
        if (event.code === 4403) {
          setStatus("offline");  // this origin may not use the socket: no point retrying
          return;
        }
        if (event.code === 4401) {
          // No (longer) valid credentials: try again later, perhaps with a fresh token.
          setStatus("offline");
          delay = maxDelay;
          timer = global.setTimeout(open, maxDelay);
          return;
        }
        reconnectLater();
      };
    }

    global.addEventListener("online", function () {
      if (!socket && !closed) {
        if (timer) global.clearTimeout(timer);
        delay = initialDelay;
        open();
      }
    });
    global.addEventListener("offline", function () { setStatus("offline"); });

    // Leaving the page aborts its requests too; that is not a stop (the answer should finish).
    let leaving = false;
    global.addEventListener("pagehide", function () { leaving = true; });
    global.addEventListener("beforeunload", function () { leaving = true; });

    // The user pressed stop: the widget aborted its request while the page lives on. Ask the
    // server to stop the run (it would finish otherwise under ON_DISCONNECT = "finish").
    live.stop = function (threadId) {
      const id = threadId || currentThread;
      if (leaving || !id || !socket || socket.readyState !== 1) return false;
      socket.send(JSON.stringify({ type: "stop", thread_id: id }));
      return true;
    };

    live.close = function () {
      closed = true;
      if (timer) global.clearTimeout(timer);
      if (socket) socket.close();
      setStatus("offline");
    };

    setStatus("connecting");
    open();
    return live;
  }

  global.ChatKitLive = { connect: connect };
})(window);
