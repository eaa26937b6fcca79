"""Schemathesis hooks for tests/schema_fuzz.rs (loaded through SCHEMATHESIS_HOOKS).

* `ShikuToken`: puts the fuzz user's (or, under /console/, the console user's) access_token into
  the query string of every operation the document marks as needing one, as Shiku clients
  send it. Open operations go without, as a client calls them before logging in.
* `after_call`: the fuzzer calls logout, password and account endpoints with random input too.
  When the token it just sent comes back as invalid (1030102), the session is renewed: the user
  logs in again, or, when that fails (password changed, account locked or deleted), a new user
  is registered. The console user logs in again; if it lost its role the console stays refused
  (still an envelope) and the test's coverage floor says so.
* `shiku_envelope`: the check of issue 17 — every answer of a documented endpoint is a Shiku
  envelope, a JSON object with an integer `resultCode` and `currentTime`; its resultCode is one
  the operation documents ("resultCode: 0 …; 1 …" in the 200 description, generated from the
  endpoint docs); and it is not an unexpected internal error (`domain::Error::Internal`: 1020101
  with the bare text 接口内部异常 — HTTP 200, so `not_a_server_error` cannot see it). The
  deliberate 1020101 answers of the reference (a malformed roomId, an unparsable upload form)
  carry a text of their own.
* Result codes seen per operation are written to SHIKU_FUZZ_STATS at exit, so the test can tell
  a run that reached the handlers from one refused at the door.

Environment (set by tests/schema_fuzz.rs): SHIKU_FUZZ_BASE, SHIKU_FUZZ_TOKEN,
SHIKU_FUZZ_CONSOLE_TOKEN, SHIKU_FUZZ_PHONE and SHIKU_FUZZ_CONSOLE_PHONE (the two accounts),
SHIKU_FUZZ_PASSWORD (md5 of their password), SHIKU_FUZZ_STATS.
"""

import atexit
import hashlib
import json
import os
import re
import sys
import threading
from collections import defaultdict

import requests
import schemathesis

BASE = os.environ["SHIKU_FUZZ_BASE"].rstrip("/")
PASSWORD = os.environ["SHIKU_FUZZ_PASSWORD"]
STATS_PATH = os.environ.get("SHIKU_FUZZ_STATS")

TOKEN_INVALID = 1030102
INTERNAL_ERROR = 1020101
# What `domain::Error::Internal` says; the detail is only logged.
INTERNAL_ERROR_TEXT = "接口内部异常"

# Documented endpoints whose answer is not an envelope, with the reason. None so far: file
# downloads and the console's HTML are not in the OpenAPI document.
NOT_ENVELOPES = {"/getImgCode": "answers a PNG image"}


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def result_code(response):
    """The envelope's resultCode, or None when the body is no envelope."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    code = body.get("resultCode")
    # bool is an int in Python; JSON true is no result code.
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    return None


class Session:
    """The tokens the fuzzer sends, renewed when a fuzzed call ends them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.user = os.environ["SHIKU_FUZZ_TOKEN"]
        self.console = os.environ["SHIKU_FUZZ_CONSOLE_TOKEN"]
        self.phone = os.environ["SHIKU_FUZZ_PHONE"]
        self.console_phone = os.environ["SHIKU_FUZZ_CONSOLE_PHONE"]
        self.registered = 0
        self.renewals = defaultdict(int)

    def token_for(self, path):
        with self.lock:
            return self.console if path.startswith("/console/") else self.user

    def renew(self, path, sent):
        """Renews the token `sent` on `path` unless another thread already did."""
        console = path.startswith("/console/")
        with self.lock:
            current = self.console if console else self.user
            if sent != current:
                return
            if console:
                self.console = self._console_login() or self.console
            else:
                self.user = self._user_login() or self._register() or self.user

    def _post(self, path, form):
        try:
            body = requests.post(BASE + path, data=form, timeout=30).json()
        except (requests.RequestException, ValueError) as e:
            print(f"hooks: {path}: {e}", file=sys.stderr)
            return None
        if body.get("resultCode") != 1:
            print(f"hooks: {path}: {body}", file=sys.stderr)
            return None
        return body.get("data") or {}

    def _user_login(self):
        self.renewals["user login"] += 1
        data = self._post(
            "/user/login",
            {"telephone": md5(self.phone), "password": PASSWORD, "areaCode": "86"},
        )
        return data and data.get("access_token")

    def _register(self):
        self.registered += 1
        self.renewals["user register"] += 1
        phone = f"1370000{self.registered:04d}"
        data = self._post(
            "/user/register",
            {"telephone": phone, "areaCode": "86", "password": PASSWORD, "nickname": "fuzz"},
        )
        token = data and data.get("access_token")
        if token:
            self.phone = phone
        return token

    def _console_login(self):
        self.renewals["console login"] += 1
        data = self._post(
            "/console/login",
            {"account": self.console_phone, "password": PASSWORD, "areaCode": "86"},
        )
        return data and data.get("access_Token")


SESSION = Session()
# operation label -> resultCode (None: no envelope) -> answers
STATS = defaultdict(lambda: defaultdict(int))
STATS_LOCK = threading.Lock()


@atexit.register
def write_stats():
    if STATS_PATH:
        with STATS_LOCK:
            out = {
                "operations": {
                    op: {str(code): n for code, n in codes.items()} for op, codes in STATS.items()
                },
                "renewals": dict(SESSION.renewals),
            }
        with open(STATS_PATH, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)


def documented_codes(operation):
    """The resultCodes the operation's 200 answer documents."""
    description = operation.definition.raw["responses"]["200"]["description"]
    listed = re.search(r"resultCode: (.*)$", description)
    if not listed:
        raise AssertionError(f"no resultCode list in the description: {description!r}")
    return {int(c) for c in re.findall(r"(?:^|; )(-?\d+) ", listed.group(1) + " ")}


def needs_token(operation):
    return bool(operation.definition.raw.get("security"))


@schemathesis.auth(refresh_interval=None)
class ShikuToken:
    """access_token in the query string of every operation that needs one."""

    def get(self, case, ctx):
        if not needs_token(ctx.operation):
            return None
        return SESSION.token_for(ctx.operation.path)

    def set(self, case, data, ctx):
        case.query = {**(case.query or {}), "access_token": data}


@schemathesis.hook
def after_call(context, case, response):
    code = result_code(response)
    with STATS_LOCK:
        STATS[case.operation.label][code] += 1
    if code == TOKEN_INVALID and needs_token(case.operation):
        sent = (case.query or {}).get("access_token")
        if sent:
            SESSION.renew(case.operation.path, sent)


@schemathesis.check
def shiku_envelope(ctx, response, case):
    """Every answer of a documented endpoint is a Shiku envelope."""
    if case.operation.path in NOT_ENVELOPES:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(
            f"not JSON (HTTP {response.status_code}): {response.content[:200]!r}"
        ) from None
    if not isinstance(body, dict):
        raise AssertionError(f"not a JSON object: {str(body)[:200]}")
    code = body.get("resultCode")
    if not isinstance(code, int) or isinstance(code, bool):
        raise AssertionError(f"resultCode is not an integer: {str(body)[:200]}")
    if not isinstance(body.get("currentTime"), int):
        raise AssertionError(f"currentTime is not an integer: {str(body)[:200]}")
    if code == INTERNAL_ERROR and body.get("resultMsg") == INTERNAL_ERROR_TEXT:
        raise AssertionError(f"internal error (see the server log): {str(body)[:200]}")
    if code not in documented_codes(case.operation):
        raise AssertionError(f"resultCode {code} is not documented: {str(body)[:300]}")
    return None
