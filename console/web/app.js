// Liaowang console: session, language and the views behind #/dashboard, #/alerts, #/hunt.
// Plain JavaScript modules, no build step; every asset comes from this server.
import { api, onUnauthorized, setCsrfToken } from "./js/api.js";
import { $ } from "./js/dom.js";
import { clearError } from "./js/errors.js";
import { defaultLanguage, onLanguageChange, setLanguage } from "./js/i18n.js";
import { initLogin, showLogin } from "./js/login.js";
import * as dashboard from "./js/dashboard.js";
import * as alerts from "./js/alerts.js";
import * as incidents from "./js/incidents.js";
import * as hunt from "./js/hunt.js";
import * as assets from "./js/assets.js";
import * as rules from "./js/rules.js";
import * as sensors from "./js/sensors.js";
import * as settings from "./js/settings.js";
import "./js/webhooks.js";   // fills the settings view's webhooks section

const VIEWS = { dashboard, alerts, incidents, hunt, assets, rules, sensors, settings };
const state = { user: null, current: null };

function parseRoute() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { name: name in VIEWS ? name : "dashboard", arg: rest.map(decodeURIComponent).join("/") };
}

function route() {
  if (!state.user) return;
  const { name, arg } = parseRoute();
  for (const [viewName, view] of Object.entries(VIEWS)) {
    $(`view-${viewName}`).hidden = viewName !== name;
    if (viewName !== name && state.current === viewName) view.hide?.();
  }
  for (const link of document.querySelectorAll(".tabs a")) {
    link.classList.toggle("active", link.dataset.view === name);
  }
  state.current = name;
  VIEWS[name].show(arg);
}

export function enterConsole(user) {
  state.user = user;
  setCsrfToken(user.csrf_token);
  document.body.dataset.role = user.role;
  $("whoami").textContent = `${user.username} · ${user.role}`;
  $("login-view").hidden = true;
  clearError();   // what failed for the last user is not this user's business
  $("app-view").hidden = false;
  for (const view of Object.values(VIEWS)) view.init(user);
  route();
}

function leaveConsole() {
  if (!state.user) return showLogin();
  state.user = null;
  setCsrfToken(null);
  for (const view of Object.values(VIEWS)) view.stop?.();
  $("app-view").hidden = true;
  showLogin();
}

async function logout() {
  try {
    await api.post("/api/auth/logout");
  } catch {
    // The session is over either way; a refused logout means it already was.
  }
  leaveConsole();
}

async function resumeSession() {
  try {
    enterConsole(await api.get("/api/auth/me"));
  } catch {
    leaveConsole();
  }
}

async function start() {
  await setLanguage(defaultLanguage());
  onUnauthorized(leaveConsole);
  onLanguageChange(() => state.current && VIEWS[state.current].show(parseRoute().arg));
  for (const select of document.querySelectorAll(".language")) {
    select.addEventListener("change", () => setLanguage(select.value));
  }
  $("logout").addEventListener("click", logout);
  window.addEventListener("hashchange", route);
  initLogin(enterConsole);
  await resumeSession();
}

start();
