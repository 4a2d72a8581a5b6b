// The element's global typing (HTMLElementTagNameMap["openai-chatkit"], its events). The
// package's README says listing it in compilerOptions.types is enough, but its index.d.ts does
// not reference dom-augment.d.ts (checked with @openai/chatkit 1.9.0), so it is named here.
/// <reference path="./node_modules/@openai/chatkit/types/dom-augment.d.ts" />

// What the example site's page puts on `window` (example_project/templates/demo/index.html).
export {};

// chatkit_backend/static/chatkit_backend/live.js, loaded by the page before its inline script.
interface ChatKitLiveOptions {
  element: HTMLElement;
  url?: string;
  token?: () => string | null;
  refreshHistory?: (frame: { thread_id: string; reason: string } | null) => void;
  onStatus?: (state: "connecting" | "connected" | "reconnecting" | "offline") => void;
  initialDelay?: number;
  maxDelay?: number;
}

interface ChatKitLiveHandle {
  status: string;
  socket: WebSocket | null;
  stop(threadId?: string | null): boolean;
  close(): void;
}

declare global {
  const ChatKitLive: { connect(options: ChatKitLiveOptions): ChatKitLiveHandle };

  interface Window {
    CHATKIT_BEARER_TOKEN?: string;
    chatkitFetch: typeof fetch;
    chatkitScriptFailed: () => void;
    chatkitLive?: ChatKitLiveHandle;
  }
}
