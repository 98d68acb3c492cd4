// @ts-check
// Field mode's screens as history entries, so the phone's back button moves between them
// (list -> record -> section) instead of leaving field mode. Routes live in the hash: changing
// it never asks the network (or the service worker) for a page. Ids in routes are the server's
// opaque ids, never names.

/**
 * @typedef {{screen: "list"} | {screen: "record", type: string, id: string, section?: string}
 *   | {screen: "conflict", id: string}} Route
 */

const PART = /^[\w.-]+$/;

/**
 * @param {string} hash location.hash, with or without "#"
 * @returns {Route}
 */
export function parse(hash) {
  const parts = String(hash || "").replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (!parts.every((p) => PART.test(p))) return { screen: "list" };
  if (parts[0] === "conflict" && parts.length === 2) return { screen: "conflict", id: parts[1] };
  if (parts[0] === "r" && (parts.length === 3 || parts.length === 4)) {
    /** @type {Route} */
    const route = { screen: "record", type: parts[1], id: parts[2] };
    if (parts[3]) route.section = parts[3];
    return route;
  }
  return { screen: "list" };
}

/**
 * @param {Route} route
 * @returns {string} the hash for it
 */
export function format(route) {
  if (route.screen === "record") {
    const bits = ["r", route.type, route.id];
    if (route.section) bits.push(route.section);
    return `#/${bits.map(encodeURIComponent).join("/")}`;
  }
  if (route.screen === "conflict") return `#/conflict/${encodeURIComponent(route.id)}`;
  return "#/";
}

/**
 * The browser side. `leave()` runs (and is awaited) before every change of screen, the back
 * button's included, so what was typed is saved before the screen it was typed on goes.
 *
 * @param {{show: (route: Route) => unknown, leave: () => Promise<unknown>}} handlers
 */
export function createRouter({ show, leave }) {
  const current = () => parse(window.location.hash);
  window.addEventListener("popstate", async () => {
    await leave().catch(() => {});
    show(current());
  });
  // How many of this page's own entries lie behind the current one: "Back" steps through them,
  // and never out of field mode from a screen opened directly (a reload, a bookmark).
  const depth = () => (window.history.state && window.history.state.hwDepth) || 0;
  return {
    current,
    /** The back link: the previous screen if it is ours, else the list. */
    back() {
      if (depth() > 0) window.history.back();
      else this.go({ screen: "list" }, { replace: true });
    },
    /** @param {Route} route @param {{replace?: boolean}} [options] */
    async go(route, { replace = false } = {}) {
      await leave().catch(() => {});
      const hash = format(route);
      if (hash !== window.location.hash || replace) {
        if (replace) window.history.replaceState({ hwDepth: depth() }, "", hash);
        else window.history.pushState({ hwDepth: depth() + 1 }, "", hash);
      }
      return show(route);
    },
  };
}
