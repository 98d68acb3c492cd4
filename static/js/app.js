// @ts-check
// Homeward page entry (an ES module, loaded after htmx's classic script).
//
// Our Content-Security-Policy allows no inline script, so everything GOV.UK's
// page template would normally do inline happens here. Behaviours are switched
// on by data-module="hw-..." attributes and are handled by delegated listeners
// on document, so content that htmx swaps in later works without re-binding.

import { initAll } from "/static/dist/govuk-frontend.min.js";
import * as push from "/static/js/push.js";

// GOV.UK Frontend's CSS and JS only enhance components when these classes are
// present; a browser that runs ES modules supports GOV.UK Frontend.
document.body.classList.add("js-enabled", "govuk-frontend-supported");

// Re-initialising a scope meets components that are already set up; GOV.UK
// Frontend reports those as InitError, which is expected and not worth logging.
/** @param {any} error */
function onGovukError(error) {
  if (error && error.name === "InitError") return;
  console.error(error);
}

initAll({ onError: onGovukError });

const htmx = window.htmx;

if (htmx) {
  // Flask-WTF rejects unsafe requests without the token; htmx requests carry it
  // as a header. Read the meta tag each time in case a swap refreshed it.
  document.body.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.verb === "get") return;
    // querySelector types an attribute selector as any Element; this one is a <meta>.
    const meta = /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="csrf-token"]'));
    if (meta) event.detail.headers["X-CSRFToken"] = meta.content;
  });

  document.body.addEventListener("htmx:afterSettle", (event) => {
    const swapped = event.target;
    if (!(swapped instanceof Element) || !swapped.isConnected) return;

    // querySelectorAll never matches the scope itself, so scope to the parent
    // to include a swapped element that is itself a component. Error summary
    // auto-focus is off here because focus is decided just below.
    initAll({
      scope: swapped.parentElement || swapped,
      onError: onGovukError,
      errorSummary: { disableAutoFocus: true },
    });

    // An autosave runs while someone is typing: never pull focus away from them.
    const trigger = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    if (trigger && trigger.type === "hw:autosave") return;

    // A swapped-in error summary must be announced (moving focus makes screen
    // readers read it), whether or not it carries data-module.
    // The DOM types these as any Element; an error summary is an HTML element (a div).
    const summary = /** @type {HTMLElement | null} */ (swapped.matches(".govuk-error-summary")
      ? swapped
      : swapped.querySelector(".govuk-error-summary"));
    if (summary && !summary.contains(document.activeElement)) {
      if (!summary.hasAttribute("tabindex")) summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
  });
}

// hw-autosave: ask the server to save a draft once the user pauses typing, or
// straight away when a field is committed (change). The form's own
// hx-trigger="hw:autosave, submit" decides what that request is.
const AUTOSAVE_DELAY_MS = 2000;
/** @type {WeakMap<HTMLFormElement, ReturnType<typeof setTimeout>>} */
const autosaveTimers = new WeakMap();

/**
 * @param {EventTarget | null} target
 * @returns {HTMLFormElement | null}
 */
function autosaveForm(target) {
  // closest() types an attribute selector as any Element; this one only matches a <form>.
  return target instanceof Element
    ? /** @type {HTMLFormElement | null} */ (target.closest('form[data-module~="hw-autosave"]'))
    : null;
}

/** @param {HTMLFormElement} form */
function requestAutosave(form) {
  clearTimeout(autosaveTimers.get(form));
  autosaveTimers.delete(form);
  // A form swapped out while its timer ran has nothing left to save.
  if (form.isConnected && htmx) htmx.trigger(form, "hw:autosave");
}

document.addEventListener("input", (event) => {
  const form = autosaveForm(event.target);
  if (!form) return;
  clearTimeout(autosaveTimers.get(form));
  autosaveTimers.set(form, setTimeout(() => requestAutosave(form), AUTOSAVE_DELAY_MS));
});

document.addEventListener("change", (event) => {
  const form = autosaveForm(event.target);
  if (form) requestAutosave(form);
});

// hw-confirm: a destructive button asks first. Listening in the capture phase
// on document runs before htmx's own listeners on the button or form, so a
// "Cancel" stops both the normal submit and any htmx request.
document.addEventListener(
  "click",
  (event) => {
    const button = event.target instanceof Element
      ? event.target.closest('[data-module~="hw-confirm"]')
      : null;
    if (!button) return;
    const message = button.getAttribute("data-confirm") || "Are you sure?";
    if (!window.confirm(message)) {
      event.preventDefault();
      event.stopPropagation();
    }
  },
  true,
);

// hw-print: a "Print" button (the police handover). Hidden until this script runs, since
// without it the button would do nothing; the CSP forbids an inline onclick.
for (const button of document.querySelectorAll('[data-module~="hw-print"]')) {
  if (button instanceof HTMLElement) button.hidden = false;
}
document.addEventListener("click", (event) => {
  if (event.target instanceof Element && event.target.closest('[data-module~="hw-print"]')) {
    window.print();
  }
});

// Offline banner. navigator.onLine is only a hint (true can mean "on a network
// without internet"), so the banner just tells people; saving never depends on it.
const offlineBanner = document.getElementById("hw-offline-banner");

function showConnectionState() {
  if (offlineBanner) offlineBanner.hidden = navigator.onLine;
}

window.addEventListener("online", showConnectionState);
window.addEventListener("offline", showConnectionState);
showConnectionState();

// hw-install: where the browser offers installation (Chrome and Edge on Android and desktop),
// show our own "Install Homeward" button on the install guide. Safari has no such event: the
// guide's Add to Home Screen steps are the way there.
/** @type {BeforeInstallPromptEvent | null} */
let deferredInstall = null;

window.addEventListener("beforeinstallprompt", (event) => {
  event.preventDefault();
  deferredInstall = event;
  const holder = document.getElementById("hw-install-prompt");
  if (holder) holder.hidden = false;
});

document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element
    ? event.target.closest('[data-module~="hw-install"]')
    : null;
  if (!button || !deferredInstall) return;
  const prompt = deferredInstall;
  deferredInstall = null;
  prompt.prompt();
  await prompt.userChoice;
  const holder = document.getElementById("hw-install-prompt");
  if (holder) holder.hidden = true;
});

// Push reminders: the settings page's switch (hw-push), and on every signed-in page start the
// current subscription is sent again, because browsers rotate subscriptions without telling us.
// querySelector types an attribute selector as any Element; this one is a <meta>.
const csrfMeta = /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="csrf-token"]'));
const signedIn = document.body.dataset.signedIn === "true";

if (signedIn && csrfMeta) {
  push.refresh(csrfMeta.content).catch(() => { /* offline or refused: next start tries again */ });
}

const pushPanel = document.querySelector('[data-module~="hw-push"]');

async function showPushState() {
  const status = document.getElementById("hw-push-status");
  const on = document.getElementById("hw-push-on");
  const off = document.getElementById("hw-push-off");
  const ios = document.getElementById("hw-push-ios");
  on.hidden = off.hidden = ios.hidden = true;
  if (push.needsHomeScreen()) {
    status.textContent = "Reminders need Homeward on your Home Screen.";
    ios.hidden = false;
  } else if (!push.supported()) {
    status.textContent = "This browser cannot show reminders. They will still appear in Notifications.";
  } else if (Notification.permission === "denied") {
    status.textContent =
      "Reminders are blocked for Homeward in this browser's settings. Allow notifications for this site, then come back here.";
  } else if (await push.heldByAnother()) {
    status.textContent =
      "This device gets reminders for another account. Turn them on to get yours here instead: the other account will stop getting reminders on this device.";
    on.hidden = false;
  } else if (await push.isOn()) {
    status.textContent = "Reminders are on for this device.";
    off.hidden = false;
  } else {
    status.textContent = "Reminders are off for this device.";
    on.hidden = false;
  }
}

if (pushPanel && csrfMeta) {
  const status = document.getElementById("hw-push-status");
  document.getElementById("hw-push-on").addEventListener("click", async () => {
    status.textContent = "Turning on reminders…";
    try {
      const result = await push.turnOn(csrfMeta.content);
      if (result !== "granted") status.textContent = "Reminders were not allowed.";
      else window.location.reload(); // the server's list of devices now includes this one
    } catch (err) {
      status.textContent = `Reminders could not be turned on: ${err.message}`;
    }
  });
  document.getElementById("hw-push-off").addEventListener("click", async () => {
    try {
      await push.turnOff(csrfMeta.content);
      window.location.reload();
    } catch (err) {
      status.textContent = `Reminders could not be turned off: ${err.message}`;
    }
  });
  showPushState();
}
