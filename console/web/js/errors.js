// The console's one error banner: a view shows what failed, and a load that works clears it.
import { $ } from "./dom.js";
import { t } from "./i18n.js";

export function showError(key, err) {
  $("app-error").textContent = t(key, { message: err.message });
  $("app-error").hidden = false;
}

export function clearError() {
  $("app-error").hidden = true;
}

// Runs a view's `load`, reporting a failure in the banner instead of throwing.
export async function loadReporting(load) {
  try {
    await load();
    clearError();
  } catch (err) {
    showError("error.load", err);
  }
}
