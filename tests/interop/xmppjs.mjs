// An independent XMPP client (xmpp.js, `@xmpp/client`) driving shiku-server over RFC 7395
// WebSocket, for tests/xmpp_interop.rs.
//
//   node tests/interop/xmppjs.mjs <scenario> '<json arguments>'
//
// Every scenario prints one JSON object on stdout (what it observed) and exits 0 when the
// expectations given in its arguments held, 1 otherwise (with `"error"` in the JSON). The Rust
// test asserts on both, so a failure shows what the client saw.
//
// Common arguments: service (ws://127.0.0.1:<port>/xmpp-websocket), domain, timeout_ms.
// A user is {"user": "<userId>", "password": "<md5 or access_token>", "resource": "web"}.

import { webcrypto } from "node:crypto";
import { WebSocket as WsWebSocket } from "ws";
import { client, xml } from "@xmpp/client";

// xmpp.js uses the platform WebSocket and Web Crypto, which Node only exposes globally from
// 22 (WebSocket) and 19 (crypto); the `ws` package and node:crypto stand in on older Nodes.
globalThis.WebSocket ??= WsWebSocket;
globalThis.crypto ??= webcrypto;

const RECEIPTS = "urn:xmpp:receipts";
const DELAY = "urn:xmpp:delay";
const MUC = "http://jabber.org/protocol/muc";

const [scenario, rawArgs] = process.argv.slice(2);
const args = JSON.parse(rawArgs ?? "{}");
const TIMEOUT = args.timeout_ms ?? 10000;

/// Thrown when an expectation fails: the message goes into the JSON report.
class Expectation extends Error {}

function expect(cond, what) {
  if (!cond) throw new Expectation(what);
}

/// Every client a scenario made, reported (and stopped) at the end even when it failed.
const peers = [];

/// A connected xmpp.js client that records every stanza it receives.
class Peer {
  constructor(name, who) {
    peers.push(this);
    this.name = name;
    this.who = who;
    this.messages = []; // chat/groupchat messages with a body
    this.receipts = []; // ids of <received xmlns="urn:xmpp:receipts"/>
    this.presences = [];
    this.streamErrors = [];
    this.xmpp = client({
      service: args.service,
      domain: args.domain,
      resource: who.resource ?? "web",
      username: String(who.user),
      password: who.password,
    });
    // The tests decide when to reconnect; xmpp.js would otherwise retry every second.
    this.xmpp.reconnect.stop();
    this.xmpp.on("error", (e) => {
      if (e?.condition) this.streamErrors.push(e.condition);
    });
    this.xmpp.on("stanza", (s) => this.#record(s));
  }

  #record(s) {
    if (s.is("message")) {
      const r = s.getChild("received", RECEIPTS);
      if (r) this.receipts.push(r.attrs.id);
      const body = s.getChildText("body");
      if (body !== null && body !== undefined) {
        const delay = s.getChild("delay", DELAY);
        let json = null;
        try {
          json = JSON.parse(body);
        } catch {
          json = null;
        }
        this.messages.push({
          type: s.attrs.type ?? null,
          from: s.attrs.from ?? null,
          to: s.attrs.to ?? null,
          id: s.attrs.id ?? null,
          body: json,
          raw_body: json === null ? body : undefined,
          delay: delay ? delay.attrs.stamp ?? "" : null,
        });
      }
    } else if (s.is("presence")) {
      this.presences.push({
        from: s.attrs.from ?? null,
        type: s.attrs.type ?? null,
        codes: s
          .getChildren("x")
          .flatMap((x) => x.getChildren("status").map((st) => st.attrs.code)),
      });
    }
  }

  /// Connects, authenticates, binds and sends initial presence as the Shiku client does.
  async start() {
    const jid = await this.xmpp.start();
    await this.xmpp.send(xml("presence"));
    return jid.toString();
  }

  async stop() {
    try {
      await this.xmpp.stop();
    } catch {
      // already closed by the server: nothing to stop
    }
  }

  bareJid() {
    return `${this.who.user}@${args.domain}`;
  }

  /// Sends a Shiku chat message (JSON body, receipt request) and returns its id.
  async sendChat(to, text, type = "chat") {
    const id = `interop_${this.who.user}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    const body = {
      messageId: id,
      fromUserId: String(this.who.user),
      fromUserName: this.name,
      toUserId: type === "chat" ? to.split("@")[0] : to,
      content: text,
      timeSend: Math.floor(Date.now() / 1000),
      type: 1,
    };
    await this.xmpp.send(
      xml(
        "message",
        { to, type, id },
        xml("body", {}, JSON.stringify(body)),
        xml("request", { xmlns: RECEIPTS }),
      ),
    );
    return id;
  }

  report() {
    return {
      messages: this.messages,
      receipts: this.receipts,
      presences: this.presences,
      stream_errors: this.streamErrors,
    };
  }
}

/// Polls `cond` until it holds or the scenario timeout passes.
async function waitFor(cond, what) {
  const deadline = Date.now() + TIMEOUT;
  while (!cond()) {
    if (Date.now() > deadline) throw new Expectation(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const scenarios = {
  /// Logs in; `expect` is "ok" or "fail" (SASL failure condition reported).
  async login(out) {
    const p = new Peer("login", args.who);
    try {
      out.jid = await p.start();
      out.ok = true;
      // A round trip proves the session is usable: the server answers urn:xmpp:ping.
      const pong = await p.xmpp.iqCaller.request(
        xml("iq", { type: "get", to: args.domain }, xml("ping", { xmlns: "urn:xmpp:ping" })),
        TIMEOUT,
      );
      out.ping = pong.attrs.type;
    } catch (e) {
      out.ok = false;
      out.condition = e?.condition ?? null;
      out.message = String(e?.message ?? e);
    } finally {
      await p.stop();
    }
    expect(out.ok === (args.expect === "ok"), `login expected ${args.expect}`);
  },

  /// A and B online; A -> B and B -> A with receipt requests; both delivered and receipted.
  async chat(out) {
    const a = new Peer("alice", args.a);
    const b = new Peer("bob", args.b);
    out.a_jid = await a.start();
    out.b_jid = await b.start();
    const ab = await a.sendChat(b.bareJid(), "hello from xmpp.js A");
    const ba = await b.sendChat(a.bareJid(), "hello from xmpp.js B");
    out.ab_id = ab;
    out.ba_id = ba;
    await waitFor(() => b.messages.some((m) => m.id === ab), "A's message at B");
    await waitFor(() => a.messages.some((m) => m.id === ba), "B's message at A");
    await waitFor(() => a.receipts.includes(ab), "receipt of A's message");
    await waitFor(() => b.receipts.includes(ba), "receipt of B's message");
    await sleep(200); // let duplicates, if any, arrive before the report
  },

  /// A sends to offline B, gets the receipt, leaves; B logs in and finds it with a delay stamp.
  async offline(out) {
    const a = new Peer("alice", args.a);
    out.a_jid = await a.start();
    const id = await a.sendChat(`${args.b.user}@${args.domain}`, "while you were away");
    out.id = id;
    await waitFor(() => a.receipts.includes(id), "receipt of the offline message");
    const b = new Peer("bob", args.b);
    out.b_jid = await b.start();
    await waitFor(() => b.messages.some((m) => m.id === id), "the offline message at B");
    await sleep(300);
    const got = b.messages.filter((m) => m.id === id);
    expect(got.length === 1, "the offline message exactly once");
    expect(got[0].delay, "a urn:xmpp:delay stamp on the offline message");
  },

  /// A asks `peer` (another client, e.g. slixmpp over TCP) something and waits for the answer
  /// "echo: <question>" and for the receipt of the question.
  async ask(out) {
    const a = new Peer("asker", args.a);
    out.a_jid = await a.start();
    const question = "ping from xmpp.js over WebSocket";
    const id = await a.sendChat(args.peer, question);
    out.id = id;
    await waitFor(() => a.receipts.includes(id), "the receipt of the question");
    await waitFor(
      () => a.messages.some((m) => m.body?.content === `echo: ${question}`),
      "the answer",
    );
  },

  /// A online on two resources (a, a2), B on one: B -> A reaches both of A's resources, and
  /// A -> B from one resource reaches B and A's other resource (multi-device copy).
  async multidevice(out) {
    const a = new Peer("alice", args.a);
    const a2 = new Peer("alice2", args.a2);
    const b = new Peer("bob", args.b);
    out.a_jid = await a.start();
    out.a2_jid = await a2.start();
    out.b_jid = await b.start();
    const ba = await b.sendChat(a.bareJid(), "to all of alice");
    out.ba_id = ba;
    await waitFor(() => a.messages.some((m) => m.id === ba), "B's message at A");
    await waitFor(() => a2.messages.some((m) => m.id === ba), "B's message at A's second resource");
    const ab = await a.sendChat(b.bareJid(), "from alice's first device");
    out.ab_id = ab;
    await waitFor(() => b.messages.some((m) => m.id === ab), "A's message at B");
    await waitFor(() => a2.messages.some((m) => m.id === ab), "A's copy at A's second resource");
    await waitFor(() => a.receipts.includes(ab), "the receipt of A's message");
    await sleep(200);
  },

  /// B joins `room` (jid@muc.domain) and says something while A is offline; A logs in, joins
  /// with <history seconds="history_seconds"> and gets it (once, delay-stamped); A sends a groupchat: A gets
  /// the reflection and the receipt, B gets the message.
  async room(out) {
    const b = new Peer("bob", args.b);
    out.b_jid = await b.start();
    const join = async (p, seconds) => {
      await p.xmpp.send(
        xml(
          "presence",
          { to: `${args.room}/${p.who.user}` },
          xml("x", { xmlns: MUC }, xml("history", { seconds: String(seconds) })),
        ),
      );
      // The join is answered with the occupant's own presence from the room.
      const self = `${args.room}/${p.who.user}`;
      await waitFor(
        () => p.presences.some((x) => x.from === self && x.type !== "error"),
        `${p.name}'s join presence`,
      );
    };
    await join(b, 0);
    const early = await b.sendChat(args.room, "before alice came", "groupchat");
    out.early_id = early;
    await waitFor(() => b.receipts.includes(early), "the receipt of B's early message");
    // A was offline meanwhile; as the Shiku client does, it logs in and joins with history.
    const a = new Peer("alice", args.a);
    out.a_jid = await a.start();
    await join(a, args.history_seconds);
    await waitFor(() => a.messages.some((m) => m.id === early), "the room history at A");
    const id = await a.sendChat(args.room, "hello room from xmpp.js", "groupchat");
    out.id = id;
    await waitFor(() => a.messages.some((m) => m.id === id), "the reflection at A");
    await waitFor(() => b.messages.some((m) => m.id === id), "the group message at B");
    await waitFor(() => a.receipts.includes(id), "the receipt of the group message");
    await sleep(200);
  },
};

const out = { scenario };
let code = 0;
try {
  const run = scenarios[scenario];
  if (!run) throw new Expectation(`unknown scenario ${scenario}`);
  await run(out);
} catch (e) {
  out.error = e instanceof Expectation ? e.message : `${e?.name}: ${e?.message ?? e}`;
  code = 1;
}
out.peers = {};
for (const p of peers) {
  out.peers[p.name] = p.report();
  await p.stop();
}
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(code);
