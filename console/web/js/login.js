// The login page: POST /api/auth/login, then the console.
import { api, ApiError } from "./api.js";
import { $ } from "./dom.js";
import { t } from "./i18n.js";

function loginErrorText(err) {
  if (!(err instanceof ApiError)) return t("login.unreachable");
  if (err.status === 401) return t("login.bad_credentials");
  if (err.status === 429) return t("login.rate_limited");
  return err.message;
}

function showError(message) {
  $("login-error").textContent = message ?? "";
  $("login-error").hidden = !message;
}

export function showLogin() {
  $("login-view").hidden = false;
  $("login-password").value = "";
  $("login-username").focus();
}

/** Wires the form; `onLoggedIn(user)` receives {username, role, csrf_token}. */
export function initLogin(onLoggedIn) {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(null);
    $("login-submit").disabled = true;
    try {
      const user = await api.post("/api/auth/login", {
        username: $("login-username").value.trim(), password: $("login-password").value,
      });
      $("login-password").value = "";
      onLoggedIn(user);
    } catch (err) {
      showError(loginErrorText(err));
    } finally {
      $("login-submit").disabled = false;
    }
  });
}
