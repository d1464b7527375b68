// Shared helpers of the artist pages: base64url, calls to the /v1 API, host names as people type
// them, and status messages.
// Text from users and from the API is only ever set with textContent (the CSP forbids inline
// script, and nothing here parses HTML).

const encoder = new TextEncoder();

export function utf8(text) {
  return encoder.encode(text);
}

export function base64url(bytes) {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = '';
  for (let i = 0; i < data.length; i += 0x8000) {
    binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64url(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) {
    throw new Error('not base64url');
  }
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/**
 * Calls the API and returns {ok, status, data, retryAfter}; data is the parsed JSON body, or null;
 * retryAfter is the seconds a 429 or 503 asks the page to wait, or null.
 */
export async function callApi(method, path, { body, contentType } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  if (contentType) {
    headers['Content-Type'] = contentType;
  }
  let response;
  try {
    // The API authorises these calls by their signatures; no cookie is needed or sent.
    response = await fetch(path, { method, headers, body, credentials: 'omit', cache: 'no-store' });
  } catch {
    return { ok: false, status: 0, data: { title: 'The registry could not be reached. Check your connection and try again.' } };
  }
  let data = null;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  return { ok: response.ok, status: response.status, data, retryAfter: retryAfterSeconds(response.headers.get('Retry-After')) };
}

/** The most times callApiRetrying sends one request, and the longest it waits between two. */
const RETRY_TRIES = 5;
const MAX_RETRY_WAIT_SECONDS = 30;

/**
 * callApi, sent again after the Retry-After of a 429 (a rate limit; without one, a second more each
 * time) or of a 503 (busy: a 503 without Retry-After says nothing about when it ends), at most five
 * times in all; the last answer is returned. onWait(seconds) is told before each wait, so that the
 * page can say why it pauses.
 */
export async function callApiRetrying(method, path, options = {}, onWait = () => {}) {
  for (let attempt = 1; ; attempt++) {
    const result = await callApi(method, path, options);
    const again = result.status === 429 || (result.status === 503 && typeof result.retryAfter === 'number');
    if (!again || attempt === RETRY_TRIES) {
      return result;
    }
    const seconds = Math.min(result.retryAfter ?? attempt, MAX_RETRY_WAIT_SECONDS);
    onWait(seconds);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

/** Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110 10.2.3); null when absent or unreadable. */
function retryAfterSeconds(header) {
  if (!header) {
    return null;
  }
  const seconds = /^\s*\d+\s*$/.test(header) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, seconds) : null;
}

/** The bare host name in what was typed: people often paste a whole address, or a host with a path. */
export function bareHost(text) {
  let value = text.trim();
  if (value.includes('://')) {
    try {
      value = new URL(value).hostname;
    } catch {
      return value; // left as typed: the registry explains what is wrong
    }
  }
  return value.replace(/\/.*$/, '').toLowerCase();
}

/** Runs task(item) for every item, at most limit at a time; resolves when all have settled. */
export async function forEachLimited(items, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await task(item);
      } catch {
        // one failed item must not stop the others; the task shows its own failures
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The lines that explain a problem+json answer: its detail or title, then each field error,
 * its field named by nameField (field => text) where the page knows a plainer name. A field error
 * that only repeats the detail (a problem about one field says it in both) is said once: as the
 * detail, or, where the page has a plainer name for its field, as that field's line.
 */
export function problemLines(result, nameField = (field) => field) {
  const problem = result.data || {};
  const errors = problem.errors && typeof problem.errors === 'object' ? Object.entries(problem.errors) : [];
  const fieldLines = [];
  let detailNamed = false;
  for (const [field, messages] of errors) {
    const name = nameField(field);
    for (const message of [].concat(messages)) {
      const repeatsDetail = Boolean(problem.detail) && String(message) === String(problem.detail);
      if (repeatsDetail && name === field) {
        continue;
      }
      detailNamed ||= repeatsDetail;
      fieldLines.push(name === field ? `${field}: ${message}` : `${name} (${field}): ${message}`);
    }
  }
  const head = detailNamed ? problem.title : problem.detail || problem.title;
  const lines = head ? [String(head)] : [];
  if (!head && fieldLines.length === 0) {
    lines.push(`The registry answered with status ${result.status}.`);
  }
  return [...lines, ...fieldLines];
}

/** Replaces an element's content with one paragraph per line of text. */
export function showMessage(element, lines, kind = 'info') {
  const list = [].concat(lines);
  element.replaceChildren(...list.map((line) => {
    const p = document.createElement('p');
    p.textContent = line;
    return p;
  }));
  element.dataset.kind = kind;
}

/**
 * A page's messages: news to its polite status region, errors to its alert region, which screen
 * readers announce at once. Showing one empties the other, so no stale error sits beside news.
 */
export function messages(statusElement, alertElement) {
  return (lines, kind = 'info') => {
    const [target, other] = kind === 'error' ? [alertElement, statusElement] : [statusElement, alertElement];
    showMessage(other, []);
    showMessage(target, lines, kind);
  };
}

/** Creates an element with text content and optional attributes. */
export function el(tag, text, attributes = {}) {
  const element = document.createElement(tag);
  if (text !== undefined && text !== null) {
    element.textContent = String(text);
  }
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  return element;
}
