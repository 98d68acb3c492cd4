// GOV.UK Frontend's bundle as app.js imports it, by URL (/static/dist/ is built from
// node_modules/govuk-frontend, which ships no types); tsconfig.json maps the URL here. Only what
// app.js uses.
export function initAll(config?: {
  scope?: Element | Document;
  onError?: (error: unknown, context?: unknown) => void;
  errorSummary?: { disableAutoFocus?: boolean };
}): void;
