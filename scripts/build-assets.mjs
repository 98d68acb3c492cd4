// Build Homeward's front-end assets into static/dist/ (git-ignored).
//
// Everything comes from node_modules (installed from package-lock.json), so no
// third-party code is ever committed. Safe to re-run: static/dist/ is rebuilt
// from scratch each time, so stale files from an older version cannot linger.
//
// Usage: npm run build

import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "static", "dist");
const govukDist = join(root, "node_modules", "govuk-frontend", "dist", "govuk");

// Must match $govuk-assets-path in static/scss/app.scss.
const ASSETS_URL = "/static/dist/assets/";

const written = [];

function write(path, contents) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, contents);
  written.push(path);
}

function copy(from, to) {
  if (!existsSync(from)) {
    throw new Error(`Missing ${relative(root, from)}: run npm install (or the package layout changed)`);
  }
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  written.push(to);
}

rmSync(dist, { recursive: true, force: true });

// 1. Sass. quietDeps hides GOV.UK Frontend's own deprecation warnings; warnings
// from our app.scss are still shown.
const result = sass.compile(join(root, "static", "scss", "app.scss"), {
  style: "compressed",
  loadPaths: [join(root, "node_modules")],
  quietDeps: true,
  sourceMap: false,
});
write(join(dist, "app.css"), result.css + "\n");

// 2. JavaScript served as-is (htmx as a classic script, GOV.UK Frontend as an ES module).
copy(join(root, "node_modules", "htmx.org", "dist", "htmx.min.js"), join(dist, "htmx.min.js"));
copy(join(govukDist, "govuk-frontend.min.js"), join(dist, "govuk-frontend.min.js"));
// The minified file ends with a sourceMappingURL comment; ship the map so
// devtools do not log a 404 for it.
copy(join(govukDist, "govuk-frontend.min.js.map"), join(dist, "govuk-frontend.min.js.map"));

// 3. Only the GOV.UK assets the compiled CSS actually refers to. Copying the whole
// assets/ folder would publish GOV.UK's crown icons and fonts, which Homeward must
// not use; reading the url()s keeps this list right as govuk-frontend changes.
const urls = new Set();
for (const match of result.css.matchAll(/url\(\s*["']?([^"')]+)["']?\s*\)/g)) {
  if (match[1].startsWith(ASSETS_URL)) urls.add(match[1].slice(ASSETS_URL.length).split(/[?#]/)[0]);
}
for (const asset of [...urls].sort()) {
  copy(join(govukDist, "assets", asset), join(dist, "assets", asset));
}

for (const path of written) console.log(`wrote ${relative(root, path)}`);
console.log(`built ${written.length} files into ${relative(root, dist)}/`);
