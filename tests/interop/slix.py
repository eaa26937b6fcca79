"""An independent XMPP client (slixmpp) driving shiku-server over TCP c2s with STARTTLS, for
tests/xmpp_interop.rs.

    python tests/interop/slix.py <scenario> '<json arguments>'

Every scenario prints one JSON object on stdout (what it observed) and exits 0 when the
expectations held, 1 otherwise (with "error" in the JSON); the Rust test asserts on both.

Common arguments: host, port (the TCP listener), domain, timeout (seconds), cafile. TLS is
verified: `cafile` is the server's certificate (self-signed, generated for the domain), loaded
as the only trust anchor, and the host name checked against the domain. A user is
{"user": "<userId>", "password": "<md5 or access_token>", "resource": "..."}.
"""

import asyncio
import json
import ssl
import sys
import time

import slixmpp

SCENARIO = sys.argv[1] if len(sys.argv) > 1 else ""
ARGS = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
TIMEOUT = float(ARGS.get("timeout", 10))


class Expectation(Exception):
    """An expectation of the scenario failed; the message goes into the JSON report."""


def expect(cond, what):
    if not cond:
        raise Expectation(what)


PEERS = []


class Peer(slixmpp.ClientXMPP):
    """A slixmpp client that records what it receives."""

    def __init__(self, name, who):
        jid = f"{who['user']}@{ARGS['domain']}/{who.get('resource', 'slix')}"
        super().__init__(jid, who["password"])
        PEERS.append(self)
        self.name = name
        self.messages = []
        self.receipts = []
        self.stream_errors = []
        self.failed_auth = False
        self.tls = None
        self.started = asyncio.Event()
        self.ended = asyncio.Event()
        # Mimic the Shiku clients: request receipts, never send <received/> ourselves.
        self.register_plugin("xep_0184", {"auto_ack": False, "auto_request": False})
        self.register_plugin("xep_0203")
        self.register_plugin("xep_0199")
        # Trust exactly the server's certificate, with host name checking on.
        ctx = ssl.create_default_context(cafile=ARGS["cafile"])
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.ssl_context = ctx
        # No automatic reconnect: a kicked session must stay kicked.
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("message", self._on_message)
        self.add_event_handler("receipt_received", self._on_receipt)
        self.add_event_handler("stream_error", self._on_stream_error)
        self.add_event_handler("failed_auth", self._on_failed_auth)
        self.add_event_handler("disconnected", self._on_disconnected)

    async def _on_start(self, _event):
        ssl_obj = self.transport.get_extra_info("ssl_object") if self.transport else None
        self.tls = ssl_obj.version() if ssl_obj is not None else None
        self.send_presence()
        self.started.set()

    def _on_message(self, msg):
        if msg["body"]:
            try:
                body = json.loads(msg["body"])
            except ValueError:
                body = None
            stamp = msg["delay"]["stamp"] if msg.xml.find("{urn:xmpp:delay}delay") is not None else None
            self.messages.append(
                {
                    "type": msg["type"],
                    "from": str(msg["from"]),
                    "id": msg["id"],
                    "body": body,
                    "delay": stamp.isoformat() if stamp else None,
                }
            )

    def _on_receipt(self, msg):
        self.receipts.append(msg["receipt"])

    def _on_stream_error(self, err):
        self.stream_errors.append(err["condition"])

    def _on_failed_auth(self, _event):
        self.failed_auth = True

    def _on_disconnected(self, _event):
        self.ended.set()

    async def login(self):
        self.connect(ARGS["host"], int(ARGS["port"]))
        await wait_event(self.started, f"{self.name} session start")

    def send_chat(self, to, text):
        mid = f"slix_{self.boundjid.user}_{time.time_ns()}"
        body = {
            "messageId": mid,
            "fromUserId": self.boundjid.user,
            "fromUserName": self.name,
            "toUserId": to.split("@")[0],
            "content": text,
            "timeSend": int(time.time()),
            "type": 1,
        }
        msg = self.make_message(mto=to, mbody=json.dumps(body), mtype="chat")
        msg["id"] = mid
        msg["request_receipt"] = True
        msg.send()
        return mid

    def report(self):
        return {
            "tls": self.tls,
            "messages": self.messages,
            "receipts": self.receipts,
            "stream_errors": self.stream_errors,
            "failed_auth": self.failed_auth,
            "ended": self.ended.is_set(),
        }


async def wait_event(event, what):
    try:
        await asyncio.wait_for(event.wait(), TIMEOUT)
    except asyncio.TimeoutError:
        raise Expectation(f"timed out waiting for {what}") from None


async def wait_for(cond, what):
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        if time.monotonic() > deadline:
            raise Expectation(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def chat(out):
    """A and B log in over STARTTLS and exchange one message each way, with receipts."""
    a = Peer("alice", ARGS["a"])
    b = Peer("bob", ARGS["b"])
    await a.login()
    await b.login()
    out["a_jid"], out["b_jid"] = str(a.boundjid), str(b.boundjid)
    ab = a.send_chat(f"{ARGS['b']['user']}@{ARGS['domain']}", "hello from slixmpp A")
    ba = b.send_chat(f"{ARGS['a']['user']}@{ARGS['domain']}", "hello from slixmpp B")
    out["ab_id"], out["ba_id"] = ab, ba
    await wait_for(lambda: any(m["id"] == ab for m in b.messages), "A's message at B")
    await wait_for(lambda: any(m["id"] == ba for m in a.messages), "B's message at A")
    await wait_for(lambda: ab in a.receipts, "the receipt of A's message")
    await wait_for(lambda: ba in b.receipts, "the receipt of B's message")
    await asyncio.sleep(0.2)
    expect(a.tls and b.tls, "both sessions encrypted by STARTTLS")


async def echo(out):
    """Logs in as A and answers the first chat message it gets (from anyone) with
    "echo: <content>", waiting for the receipt of the answer."""
    a = Peer("echo", ARGS["a"])
    await a.login()
    await wait_for(lambda: a.messages, "a message to echo")
    first = a.messages[0]
    out["echoed_id"] = first["id"]
    peer = first["from"].split("/")[0]
    content = (first["body"] or {}).get("content", "")
    rid = a.send_chat(peer, f"echo: {content}")
    out["reply_id"] = rid
    await wait_for(lambda: rid in a.receipts, "the receipt of the echo")


async def conflict(out):
    """A second login on the same resource ends the first with a `conflict` stream error."""
    first = Peer("first", ARGS["a"])
    await first.login()
    second = Peer("second", ARGS["a"])
    await second.login()
    await wait_event(first.ended, "the first session to end")
    await wait_for(lambda: first.stream_errors, "the first session's stream error")
    expect(first.stream_errors == ["conflict"], "the first session ended with conflict")
    # The second session is the one that lives on: a ping round trip works.
    await second["xep_0199"].ping(ARGS["domain"], timeout=TIMEOUT)
    out["second_alive"] = not second.ended.is_set()
    expect(out["second_alive"], "the second session still connected")


async def bad_login(out):
    """Wrong password: SASL failure, no session."""
    p = Peer("bad", ARGS["a"])
    p.connect(ARGS["host"], int(ARGS["port"]))
    await wait_for(lambda: p.failed_auth or p.started.is_set(), "the SASL outcome")
    expect(p.failed_auth and not p.started.is_set(), "authentication refused")


SCENARIOS = {"chat": chat, "echo": echo, "conflict": conflict, "bad_login": bad_login}


async def main():
    out = {"scenario": SCENARIO}
    code = 0
    try:
        run = SCENARIOS.get(SCENARIO)
        if run is None:
            raise Expectation(f"unknown scenario {SCENARIO}")
        await run(out)
    except Expectation as e:
        out["error"] = str(e)
        code = 1
    except Exception as e:  # noqa: BLE001 - every failure belongs in the report
        out["error"] = f"{type(e).__name__}: {e}"
        code = 1
    out["peers"] = {p.name: p.report() for p in PEERS}
    for p in PEERS:
        if not p.ended.is_set():
            p.disconnect(wait=0.5)
    for p in PEERS:
        try:
            await asyncio.wait_for(p.ended.wait(), 2)
        except asyncio.TimeoutError:
            pass
    print(json.dumps(out), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
