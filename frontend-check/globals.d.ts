// The element's global typing (HTMLElementTagNameMap["openai-chatkit"], its events). The
// package's README says listing it in compilerOptions.types is enough, but its index.d.ts does
// not reference dom-augment.d.ts (checked with @openai/chatkit 1.9.0), so it is named here.
/// <reference path="./node_modules/@openai/chatkit/types/dom-augment.d.ts" />

// What the example site's page puts on `window` (example_project/templates/demo/index.html).
export {};

declare global {
  interface Window {
    CHATKIT_BEARER_TOKEN?: string;
    chatkitFetch: typeof fetch;
    chatkitScriptFailed: () => void;
  }
}
