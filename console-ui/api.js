// The console JSON API: every call is a form POST with the console token as `access_token`; the
// envelope's resultCode 1 means success. A missing (1030101) or expired/revoked (1030102) token
// ends the session here so the page can send the operator back to the login form.

const TOKEN_KEY = 'shiku.console.token';
const AREA_KEY = 'shiku.console.area';
const SESSION_CODES = new Set([1030101, 1030102]);

/** A refused call: the server's resultCode and resultMsg. */
export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    /** Whether the session ended (the caller should show the login form, not an alert). */
    this.sessionEnded = SESSION_CODES.has(code);
  }
}

let onSessionEnded = () => {};

/** Registers what to do when the server refuses the token (show the login form). */
export function whenSessionEnds(handler) {
  onSessionEnded = handler;
}

/** The stored console token, or null. Kept in sessionStorage: it dies with the tab. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Stores (or with null, forgets) the console token. */
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Which back office the stored token opens: 'console' (admins) or 'mp' (a public account). */
export function area() {
  return sessionStorage.getItem(AREA_KEY) === 'mp' ? 'mp' : 'console';
}

/** Records which back office the token just stored opens. */
export function setArea(value) {
  sessionStorage.setItem(AREA_KEY, value === 'mp' ? 'mp' : 'console');
}

/** POSTs `params` to `path` and answers the envelope's data ({} when none), or throws ApiError. */
export async function api(path, params = {}) {
  const v = await call(path, params);
  // Some answers carry no data; success is still truthy so callers can test `if (await …)`.
  return v.data ?? {};
}

/**
 * POSTs to a paged console endpoint and answers `{rows, count}`: the reference's PageResult
 * puts the page's rows in `data` and the number of all matching rows in `count`, both at the
 * top of the envelope.
 */
export async function apiPage(path, params = {}) {
  const v = await call(path, params);
  return { rows: Array.isArray(v.data) ? v.data : [], count: Number(v.count) || 0 };
}

/** POSTs and answers the whole successful envelope, or throws ApiError. */
async function call(path, params) {
  const body = new URLSearchParams();
  const t = token();
  if (t && path !== '/console/login' && path !== '/mp/login') body.set('access_token', t);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') body.set(k, String(v));
  }
  let res;
  try {
    res = await fetch(path, { method: 'POST', body, headers: { Accept: 'application/json' } });
  } catch {
    throw new ApiError(-1, '无法连接服务器，请检查网络');
  }
  let v;
  try {
    v = await res.json();
  } catch {
    throw new ApiError(res.status, `服务器返回了无法识别的应答 (HTTP ${res.status})`);
  }
  if (v.resultCode === 1) return v;
  const err = new ApiError(v.resultCode, v.resultMsg || `操作失败 (错误码 ${v.resultCode})`);
  if (err.sessionEnded) {
    setToken(null);
    onSessionEnded(err.code === 1030101 ? '请先登录' : '登录已过期，请重新登录');
  }
  throw err;
}
