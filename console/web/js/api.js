// The console API: JSON in and out, the CSRF token on state changes, 401 ends the session.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const session = { csrfToken: null, onUnauthorized: () => {} };

export function setCsrfToken(token) {
  session.csrfToken = token ?? null;
}

/** Called whenever the server answers 401: the session is over, show the login page. */
export function onUnauthorized(callback) {
  session.onUnauthorized = callback;
}

function describeDetail(detail) {
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  }
  return typeof detail === "string" ? detail : "";
}

export function queryString(params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function headersFor(method, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session.csrfToken) headers["X-CSRF-Token"] = session.csrfToken;
  return headers;
}

async function request(method, path, { params, body } = {}) {
  const response = await fetch(path + queryString(params), {
    method,
    headers: headersFor(method, body),
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401 && path !== "/api/auth/login") session.onUnauthorized();
    throw new ApiError(response.status, describeDetail(data.detail) || response.statusText);
  }
  return data;
}

export const api = {
  get: (path, params) => request("GET", path, { params }),
  post: (path, body) => request("POST", path, { body }),
  patch: (path, body) => request("PATCH", path, { body }),
  delete: (path) => request("DELETE", path),
};
