// Sign-in on AWS: Cognito's hosted sign-in page with the authorization-code flow and PKCE; the ID
// token goes in the Authorization header of every /app call. Locally there is no sign-in.

const TOKEN_KEY = "coursegen.id_token";
const VERIFIER_KEY = "coursegen.pkce_verifier";

let signIn = null;

export function authorization() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  if (tokenExpiry(token) <= Date.now() / 1000 + 30) {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
  return token;
}

export function claims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}

function tokenExpiry(token) {
  return Number(claims(token).exp) || 0;
}

function redirectUri() {
  return new URL(".", document.baseURI).href;
}

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// Finishes a sign-in that came back with ?code=, then answers whether the page may call the API.
export async function start(config) {
  signIn = config;
  if (!signIn) return true;
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  const verifier = sessionStorage.getItem(VERIFIER_KEY);
  if (code && verifier) {
    history.replaceState(null, "", redirectUri());
    sessionStorage.removeItem(VERIFIER_KEY);
    const response = await fetch(`https://${signIn.domain}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: signIn.client_id,
        code,
        redirect_uri: redirectUri(),
        code_verifier: verifier,
      }),
    });
    if (response.ok) sessionStorage.setItem(TOKEN_KEY, (await response.json()).id_token);
  }
  return authorization() !== null;
}

export async function redirectToSignIn() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  sessionStorage.setItem(VERIFIER_KEY, verifier);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: signIn.client_id,
    redirect_uri: redirectUri(),
    scope: "openid email",
    code_challenge_method: "S256",
    code_challenge: base64url(digest),
  });
  location.assign(`https://${signIn.domain}/oauth2/authorize?${query}`);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  const query = new URLSearchParams({ client_id: signIn.client_id, logout_uri: redirectUri() });
  location.assign(`https://${signIn.domain}/logout?${query}`);
}
