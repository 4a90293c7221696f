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

// A body is sent as JSON, or as it is when it is a file (a Blob).
export async function call(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  const token = authorization();
  if (token) headers.Authorization = token;
  const raw = body instanceof Blob;
  if (body !== undefined) headers["Content-Type"] = raw ? "application/octet-stream" : "application/json";
  let response;
  try {
    response = await fetch(new URL(path, API), {
      method,
      headers,
      body: body === undefined || raw ? body : JSON.stringify(body),
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
  // The same key for every attempt at one submission: a request sent again after a lost answer
  // gets the course the first one created.
  submit: (request, key) => call("POST", "courses", request, { "Idempotency-Key": key }),
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
  addBook: (file) => call("POST", `books?filename=${encodeURIComponent(file.name)}`, file),
};

// A random UUID for an Idempotency-Key; crypto.randomUUID needs a secure context (https, or
// localhost), getRandomValues does not.
export function requestKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
