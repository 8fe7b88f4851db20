// The public OpenWhisk REST API, as this browser session's namespace key may call it.

const KEY = 'whisklet.auth';
export const NS = '/api/v1/namespaces/_';

/** An API answer that was not a success, carrying the API's own message. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** The signed-in `uuid:key`, kept in this tab's session storage only (never in a URL or cookie). */
export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  signIn(key) { sessionStorage.setItem(KEY, key); },
  signOut() { sessionStorage.removeItem(KEY); },
};

/** Calls the API with Basic auth; returns `{status, body}` or throws an ApiError with the API's message. */
export async function call(method, path, { query, body, key = session.key, accept = [] } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== '') url.searchParams.set(name, String(value));
  }
  const headers = { Accept: 'application/json' };
  if (key) headers.Authorization = `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(key)))}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer',
    });
  } catch (error) {
    throw new ApiError(0, `Whisklet did not answer (${error.message}): is the server running?`);
  }
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (response.ok || accept.includes(response.status)) return { status: response.status, body: parsed };
  const message = parsed && typeof parsed === 'object' && typeof parsed.error === 'string'
    ? parsed.error : `${response.status} ${response.statusText}`;
  throw new ApiError(response.status, message, parsed);
}

/** A path segment of an entity name (`pkg/action` keeps its slash). */
export function entityPath(collection, name) {
  return `${NS}/${collection}/${name.split('/').map(encodeURIComponent).join('/')}`;
}
