// ESLint for the browser code: recommended rules, with the globals each kind of file really has
// (pages, the service worker, node --test files and build scripts).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/dist/**", "node_modules/**", ".venv/**", "instance/**"] },
  js.configs.recommended,
  {
    files: ["static/js/**/*.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.browser } },
  },
  {
    // A classic worker: its shared message names come in through importScripts.
    files: ["static/sw.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.serviceworker } },
  },
  {
    files: ["tests/js/**/*.mjs", "scripts/**/*.mjs", "eslint.config.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.node } },
  },
  {
    rules: {
      // "_" marks a value deliberately ignored (a caught error nobody needs).
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" }],
    },
  },
];
