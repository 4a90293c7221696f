// The browser's side of the HTTP API: every call goes to the /app routes (the ones a signed-in
// learner may use), errors come back as ApiError in the API's one error shape.

import { authorization } from "./auth.js";

const API = new URL("app/", document.baseURI);

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message);
    this.status = status;
    this.code = error.code;
    this.field = error.field;
  }
}

// The server could not be reached, or answered that it is briefly unavailable: worth retrying.
export class Unreachable extends Error {
  constructor(message, retryAfterSeconds) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = authorization();
  if (token) headers.Authorization = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(new URL(path, API), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Unreachable("The server cannot be reached.");
  }
  if (response.status === 204) return null;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (response.ok) return payload;
  if (response.status === 503 || response.status === 502 || response.status === 504) {
    const after = Number(response.headers.get("Retry-After")) || undefined;
    throw new Unreachable(payload?.error?.message ?? `The server answered ${response.status}.`, after);
  }
  throw new ApiError(
    response.status,
    payload?.error ?? { code: "http_" + response.status, message: `The server answered ${response.status}.`, field: null },
  );
}

export const api = {
  config: () => call("GET", "config"),
  submit: (request) => call("POST", "courses", request),
  course: (id) => call("GET", `courses/${encodeURIComponent(id)}`),
  courses: (params) => {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value) query.set(key, String(value));
    const suffix = query.toString();
    return call("GET", suffix ? `courses?${suffix}` : "courses");
  },
  retry: (id) => call("POST", `courses/${encodeURIComponent(id)}/retry`),
  remove: (id) => call("DELETE", `courses/${encodeURIComponent(id)}`),
  books: () => call("GET", "books"),
};
