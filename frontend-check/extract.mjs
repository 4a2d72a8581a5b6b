// Writes every frontend snippet into snippets/, where tsc checks it against @openai/chatkit:
// - the ```ts blocks and the inline <script> bodies of ```html blocks in the README's
//   "Wiring the ChatKit frontend" section;
// - the inline <script> of the example site's page;
// - the example's React component (example_project/frontend/ChatPanel.tsx), which the README's
//   ```tsx block must show exactly.
// Reading them from their sources (rather than keeping copies) means they cannot drift.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

const here = new URL(".", import.meta.url);
const read = (path) => readFileSync(new URL(path, here), "utf8");

function inlineScripts(html) {
  return [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)]
    .map((match) => match[1])
    .filter((body) => body.trim());
}

const readme = read("../README.md");
const start = readme.indexOf("\n## Wiring the ChatKit frontend\n");
const end = readme.indexOf("\n## ", start + 1);
if (start < 0) throw new Error("README.md has no 'Wiring the ChatKit frontend' section");
const section = readme.slice(start, end);

const snippets = [];
for (const [, language, code] of section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)) {
  if (language === "ts") snippets.push(["ts", code]);
  if (language === "html") for (const body of inlineScripts(code)) snippets.push(["js", body]);
}
if (snippets.length < 2) throw new Error(`expected the README's two snippets, found ${snippets.length}`);

const page = read("../example_project/templates/demo/index.html");
const pageScripts = inlineScripts(page).filter((body) => !body.includes("{%"));
if (pageScripts.length !== 1) throw new Error("expected one inline script in the example page");

rmSync(new URL("snippets", here), { recursive: true, force: true });
mkdirSync(new URL("snippets", here));
snippets.forEach(([extension, code], index) => {
  // Each snippet is a module of its own, so their top-level names do not collide.
  writeFileSync(new URL(`snippets/readme-${index + 1}.${extension}`, here), `${code}\nexport {};\n`);
});
writeFileSync(new URL("snippets/example-page.js", here), `${pageScripts[0]}\nexport {};\n`);

const component = read("../example_project/frontend/ChatPanel.tsx");
const shown = [...section.matchAll(/^```tsx\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
if (!shown.includes(component)) {
  throw new Error("README.md's ```tsx block is not example_project/frontend/ChatPanel.tsx: copy it again");
}
writeFileSync(new URL("snippets/react-ChatPanel.tsx", here), component);
console.log(`extracted ${snippets.length} README snippets, the example page's script and ChatPanel.tsx`);
