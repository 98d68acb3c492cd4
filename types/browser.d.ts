// Types tsc needs for the pages' JS (static/js/) that the DOM library does not have: what the
// pages get from outside our modules. Type declarations only: nothing here is served.

// The htmx events app.js listens for, as htmx dispatches them (CustomEvents on the element).
interface HtmxConfigRequestDetail {
  verb: string;
  headers: Record<string, string>;
}

interface HtmxAfterSettleDetail {
  requestConfig?: { triggeringEvent?: Event | null };
}

interface HTMLElementEventMap {
  "htmx:configRequest": CustomEvent<HtmxConfigRequestDetail>;
  "htmx:afterSettle": CustomEvent<HtmxAfterSettleDetail>;
}

// Chromium's install prompt (not a web standard yet, so not in the DOM library).
interface BeforeInstallPromptEvent extends Event {
  prompt(): Promise<void>;
  readonly userChoice: Promise<{ outcome: "accepted" | "dismissed"; platform: string }>;
}

interface WindowEventMap {
  beforeinstallprompt: BeforeInstallPromptEvent;
}

interface Window {
  // htmx's classic script, loaded before app.js; absent on pages that do not load it.
  htmx?: typeof import("htmx.org").default;
}

interface Navigator {
  // Safari on iPhone and iPad only: true when started from the Home Screen.
  readonly standalone?: boolean;
}
