// Settings (admins): users, API tokens (a new token's secret is shown once), the audit log a
// page at a time. Webhook deliveries live in <section id="settings-webhooks">, which their own
// module fills: it listens there for the "settings-show" and "settings-hide" events this view
// dispatches when it opens and closes.
import { api } from "./api.js";
import { $, button, cell, element, formatTime, shortTime } from "./dom.js";
import { t } from "./i18n.js";

const AUDIT_PAGE = 50;
const state = { wired: false, auditOffset: 0, generation: 0 };

function showError(id, err) {
  $(id).textContent = err ? t("error.action", { message: err.message }) : "";
  $(id).hidden = !err;
}

function time(value) {
  const node = cell(value ? shortTime(value) : "—", "col-time");
  node.title = value ? formatTime(value) : "";
  return node;
}

function roleCell(role) {
  return cell(t(`settings.role_${role}`), `col-role role-${role}`);
}

// ---- users -------------------------------------------------------------------------------

function userRow(user) {
  const row = element("tr");
  row.dataset.username = user.username;
  const remove = button(t("settings.delete"), "danger", () => deleteUser(user.username));
  remove.setAttribute("aria-label", t("settings.delete_user", { name: user.username }));
  const actions = element("td", "col-actions");
  actions.append(remove);
  row.append(cell(user.username), roleCell(user.role), time(user.created_at), actions);
  return row;
}

async function loadUsers() {
  const users = await api.get("/api/users");
  $("user-rows").replaceChildren(...users.data.map(userRow));
}

async function deleteUser(username) {
  if (!window.confirm(t("settings.confirm_delete_user", { name: username }))) return;
  try {
    await api.delete(`/api/users/${encodeURIComponent(username)}`);
    showError("user-error", null);
    await Promise.all([loadUsers(), loadAudit()]);
  } catch (err) {
    showError("user-error", err);
  }
}

async function addUser(event) {
  event.preventDefault();
  const form = $("user-form");
  try {
    await api.post("/api/users", { username: $("user-name").value.trim(),
      password: $("user-password").value, role: $("user-role").value });
    form.reset();
    showError("user-error", null);
    await Promise.all([loadUsers(), loadAudit()]);
  } catch (err) {
    showError("user-error", err);
  }
}

// ---- tokens ------------------------------------------------------------------------------

function tokenRow(token) {
  const row = element("tr");
  row.dataset.id = token.id;
  const revoke = button(t("settings.revoke"), "danger", () => revokeToken(token));
  revoke.setAttribute("aria-label", t("settings.revoke_token", { name: token.name }));
  const actions = element("td", "col-actions");
  actions.append(revoke);
  row.append(cell(token.name), roleCell(token.role), cell(token.created_by),
    time(token.created_at), time(token.expires_at), time(token.last_used_at), actions);
  return row;
}

async function loadTokens() {
  const tokens = await api.get("/api/tokens");
  $("token-rows").replaceChildren(...tokens.data.map(tokenRow));
}

async function revokeToken(token) {
  if (!window.confirm(t("settings.confirm_revoke", { name: token.name }))) return;
  try {
    await api.delete(`/api/tokens/${encodeURIComponent(token.id)}`);
    showError("token-error", null);
    await Promise.all([loadTokens(), loadAudit()]);
  } catch (err) {
    showError("token-error", err);
  }
}

function showSecret(created) {
  $("token-secret-name").textContent = created.name;
  $("token-secret-value").textContent = created.token;
  $("token-secret").hidden = false;
}

async function createToken(event) {
  event.preventDefault();
  const days = $("token-days").value;
  try {
    const created = await api.post("/api/tokens", { name: $("token-name").value.trim(),
      role: $("token-role").value, expires_days: days ? Number(days) : null });
    $("token-form").reset();
    showSecret(created);
    showError("token-error", null);
    await Promise.all([loadTokens(), loadAudit()]);
  } catch (err) {
    showError("token-error", err);
  }
}

async function copySecret() {
  try {
    await navigator.clipboard.writeText($("token-secret-value").textContent);
    $("token-copy").textContent = t("settings.copied");
  } catch {
    window.getSelection().selectAllChildren($("token-secret-value"));
  }
}

function hideSecret() {
  $("token-secret-value").textContent = "";
  $("token-secret").hidden = true;
  $("token-copy").textContent = t("settings.copy");
}

// ---- audit log ---------------------------------------------------------------------------

function auditRow(entry) {
  const row = element("tr");
  row.append(time(entry.at), cell(entry.username), cell(entry.action, "mono"),
    cell(entry.target, "mono"), cell(entry.source_ip, "mono"), cell(entry.detail, "col-detail"));
  return row;
}

async function loadAudit() {
  const page = await api.get("/api/audit", { size: AUDIT_PAGE + 1, offset: state.auditOffset });
  const entries = page.data.slice(0, AUDIT_PAGE);
  $("audit-rows").replaceChildren(...entries.map(auditRow));
  $("audit-newer").disabled = state.auditOffset === 0;
  $("audit-older").disabled = page.data.length <= AUDIT_PAGE;
  $("audit-page").textContent = t("settings.audit_page", { from: state.auditOffset + 1,
    to: state.auditOffset + entries.length });
}

function turnAuditPage(step) {
  state.auditOffset = Math.max(0, state.auditOffset + step * AUDIT_PAGE);
  loadAudit().catch((err) => showError("audit-error", err));
}

// ---- view contract -----------------------------------------------------------------------

function wire() {
  $("user-form").addEventListener("submit", addUser);
  $("token-form").addEventListener("submit", createToken);
  $("token-copy").addEventListener("click", copySecret);
  $("token-secret-done").addEventListener("click", hideSecret);
  $("audit-newer").addEventListener("click", () => turnAuditPage(-1));
  $("audit-older").addEventListener("click", () => turnAuditPage(1));
}

export function init() {
  if (!state.wired) wire();
  state.wired = true;
}

export async function show() {
  const generation = ++state.generation;
  try {
    await Promise.all([loadUsers(), loadTokens(), loadAudit()]);
    if (generation === state.generation) $("app-error").hidden = true;
  } catch (err) {
    $("app-error").textContent = t("error.load", { message: err.message });
    $("app-error").hidden = false;
  }
  $("settings-webhooks").dispatchEvent(new CustomEvent("settings-show"));
}

export function hide() {
  hideSecret();
  $("settings-webhooks").dispatchEvent(new CustomEvent("settings-hide"));
}

export function stop() {
  hideSecret();
}
