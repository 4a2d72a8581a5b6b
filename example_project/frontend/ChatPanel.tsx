// A React (or Next.js, as a client component) chat panel on a django-chatkit-backend site.
// Type-checked against @openai/chatkit-react's published types by frontend-check/ (.ci/run).
"use client";

import { ChatKit, useChatKit } from "@openai/chatkit-react";
import type { ColorScheme, EntitiesOption, Entity, ModelOption } from "@openai/chatkit-react";
import { useEffect, useMemo, useState } from "react";

type Composer = { models?: ModelOption[]; dictation: { enabled: boolean } };
type Preview = Awaited<ReturnType<NonNullable<EntitiesOption["onRequestPreview"]>>>;

export type ChatPanelProps = {
  /** The Django site: "" on the same origin, else e.g. "https://api.example.com". */
  backend?: string;
  /** CHATKIT_BACKEND["DOMAIN_KEY"]: any placeholder on localhost, the allowlisted key elsewhere. */
  domainKey: string;
  /** A SimpleJWT access token (api/token/) for another origin; without one, the session
   * cookie and Django's CSRF token authenticate (a page served by the Django site). */
  accessToken?: string | null;
};

function csrfToken(): string {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** A fetch that authenticates every request the widget (and this panel) makes. */
function authenticatedFetch(accessToken: string | null): typeof fetch {
  return (input, init = {}) => {
    const headers = new Headers(
      init.headers || (input instanceof Request ? input.headers : undefined),
    );
    if (accessToken) headers.set("Authorization", `Bearer ${accessToken}`);
    else headers.set("X-CSRFToken", csrfToken()); // session auth checks CSRF
    const credentials: RequestCredentials = accessToken ? "omit" : "same-origin";
    return fetch(input, { ...init, headers, credentials });
  };
}

async function getJson<T>(authFetch: typeof fetch, url: string, init?: RequestInit): Promise<T> {
  const headers = { "Content-Type": "application/json" };
  const response = await authFetch(url, { ...init, headers });
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return (await response.json()) as T;
}

export function ChatPanel({ backend = "", domainKey, accessToken = null }: ChatPanelProps) {
  const authFetch = useMemo(() => authenticatedFetch(accessToken), [accessToken]);
  // The options the server decides: the model picker (MODEL_CHOICES) and dictation.
  const [composer, setComposer] = useState<Composer | null>(null);
  useEffect(() => {
    let current = true;
    getJson<Composer>(authFetch, `${backend}/chatkit/composer`)
      .catch((): Composer => ({ dictation: { enabled: false } }))
      .then((options) => current && setComposer(options));
    return () => {
      current = false;
    };
  }, [authFetch, backend]);

  if (composer === null) return <p>Loading the chat…</p>;
  return <Chat backend={backend} domainKey={domainKey} authFetch={authFetch} composer={composer} />;
}

type ChatProps = { backend: string; domainKey: string; authFetch: typeof fetch; composer: Composer };

function Chat({ backend, domainKey, authFetch, composer }: ChatProps) {
  const [colorScheme, setColorScheme] = useState<ColorScheme>("light");
  const { control } = useChatKit({
    api: {
      url: `${backend}/chatkit/api`,
      domainKey,
      fetch: authFetch,
      // Each file is POSTed through authFetch to the upload endpoint; or { type: "two_phase" }.
      uploadStrategy: { type: "direct", uploadUrl: `${backend}/chatkit/api/upload` },
    },
    theme: { colorScheme },
    history: { enabled: true },
    // Attachments: as the site's CHATKIT_BACKEND["ATTACHMENTS"] (on by default).
    composer: { ...composer, attachments: { enabled: true } },
    // `@` in the composer: the caller's own entities (ENTITY_SEARCH, ENTITY_PREVIEW).
    entities: {
      onTagSearch: async (query: string): Promise<Entity[]> => {
        const url = `${backend}/chatkit/entities?q=${encodeURIComponent(query)}`;
        return (await getJson<{ entities: Entity[] }>(authFetch, url)).entities;
      },
      onRequestPreview: (entity: Entity) =>
        getJson<Preview>(authFetch, `${backend}/chatkit/entities/preview`, {
          method: "POST",
          body: JSON.stringify(entity),
        }),
    },
    // The ladder's client tool (EXAMPLE_AGENT=tool): the agent switches the panel's theme.
    onClientTool: async ({ name, params }) => {
      if (name !== "switch_theme") throw new Error(`No client tool named ${name}`);
      const theme: ColorScheme = params.theme === "light" ? "light" : "dark";
      setColorScheme(theme);
      return { theme };
    },
    onError: ({ error }) => console.error("ChatKit", error),
  });
  return <ChatKit control={control} style={{ display: "block", height: 600 }} />;
}
