// Every visible string comes from one catalogue per language (i18n/<lang>.json).
// Markup names its strings with data-i18n (text), data-i18n-placeholder, data-i18n-title and
// data-i18n-aria-label; code calls t("key", {name: value}).

export const LANGUAGES = ["en", "zh-CN"];
const STORAGE_KEY = "liaowang.language";
const state = { language: "en", catalogue: {}, listeners: [] };

export function defaultLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(saved)) return saved;
  const browser = (navigator.languages?.[0] ?? navigator.language ?? "en").toLowerCase();
  return browser.startsWith("zh") ? "zh-CN" : "en";
}

export function currentLanguage() {
  return state.language;
}

/** The translation of `key`, with `{name}` placeholders filled; the key itself if missing. */
export function t(key, values = {}) {
  const template = state.catalogue[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
}

const ATTRIBUTES = { i18nPlaceholder: "placeholder", i18nTitle: "title",
  i18nAriaLabel: "aria-label" };

export function translateTree(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const [dataKey, attribute] of Object.entries(ATTRIBUTES)) {
    const selector = `[data-${dataKey.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}]`;
    for (const node of root.querySelectorAll(selector)) {
      node.setAttribute(attribute, t(node.dataset[dataKey]));
    }
  }
}

/** Called after every language switch, so views re-render their generated text. */
export function onLanguageChange(listener) {
  state.listeners.push(listener);
}

export async function setLanguage(language) {
  const chosen = LANGUAGES.includes(language) ? language : "en";
  const response = await fetch(`/static/i18n/${chosen}.json`);
  state.catalogue = await response.json();
  state.language = chosen;
  localStorage.setItem(STORAGE_KEY, chosen);
  document.documentElement.lang = chosen;
  document.title = t("app.title");
  translateTree();
  for (const select of document.querySelectorAll(".language")) select.value = chosen;
  for (const listener of state.listeners) listener(chosen);
}
