//! One `Config`, layered: built-in defaults < `shiku.toml` (or `--config FILE`) < `SHIKU_*`
//! environment variables < command-line flags. Every default starts a working server on a fresh
//! machine with nothing else installed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Which store adapter serves the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// Embedded SQLite under `data_dir` (the default).
    Sqlite,
    /// An existing Shiku MongoDB.
    Mongodb,
}

/// How the reference's request signature (`secret`, `time`) is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureMode {
    /// Never checked (the seed-002 deployment, `isAuthApi=0`).
    Off,
    /// Checked when the request carries a `secret`.
    WhenPresent,
    /// Required on every token-protected call (`isAuthApi=1`).
    Required,
}

/// The unit history endpoints give `timeSend` in (README "Times"): the stock jQuery client
/// reads seconds, seed 002's Vue clients milliseconds; `as_sent` returns every message as its
/// sender sent it (the reference's behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryTimeUnit {
    Seconds,
    Ms,
    AsSent,
}

/// Default cap on attributes per XML element (`xmpp.max_attributes`; a BOSH session request,
/// the largest real tag, has about 15).
pub const DEFAULT_MAX_ATTRIBUTES: usize = 64;

/// The whole server configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Main listener: the API and, unless split out, everything else.
    pub listen: String,
    /// Optional separate listeners at the reference's ports (API 8092, upload 8088, files 8089).
    pub listen_api: Option<String>,
    pub listen_upload: Option<String>,
    pub listen_files: Option<String>,
    /// Where the embedded store (and later uploads) live.
    pub data_dir: PathBuf,
    pub store: StoreKind,
    pub mongodb: MongoConfig,
    pub auth: AuthConfig,
    /// Password checks: the hashing pool, the repeat-login verifiers and the guessing limiter.
    pub passwords: PasswordConfig,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` names the client; from anyone else the
    /// socket's peer is the client's address (login limits and logs count it).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Values served by `/config` and used for new users.
    pub client: ClientConfig,
    pub limits: Limits,
    /// Room settings the server imposes on new rooms (the reference's `config.maxUserSize`,
    /// `isLook`, …).
    pub rooms: RoomConfig,
    /// Live delivery over XMPP (the Tigase replacement).
    pub xmpp: XmppConfig,
    /// Several nodes on one MongoDB: the node's id and the NATS bus (off unless `nats_url`).
    pub cluster: ClusterConfig,
    /// Uploads and the file server (the reference's upload service on 8088 and nginx on 8089).
    pub files: FilesConfig,
    /// SMS codes and image codes (README "SMS").
    pub sms: SmsConfig,
    /// First userId handed out on an empty database (reference: 10000002; seed 002: 6 digits).
    pub first_user_id: i32,
    /// `tracing` filter, e.g. `info` or `shiku_server=debug`.
    pub log: String,
    /// One line per HTTP request (address, method, path with secrets masked, status, size,
    /// time) at `info`. Off by default, as in the reference's Spring Boot server: at full load
    /// the line costs about a quarter of a small request's CPU.
    pub access_log: bool,
    /// Shared secret the task-management system sends as `access_token` to the console
    /// integration endpoints (`/console/oneSendOne`, ...); empty = only console tokens work.
    pub integration_key: String,
}

/// MongoDB connection and the reference database names.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MongoConfig {
    pub uri: String,
    /// API database (`im.mongoConfig.dbName`): users, relations, config, orgs.
    pub api_db: String,
    /// Room database (hard-coded `imRoom` in the reference).
    pub room_db: String,
    /// Message database (`im.xmppConfig.dbName`, `tigase`).
    pub message_db: String,
    /// Where single-chat history and conversation rows live: `reference` (one `shiku_msgs` and
    /// one `shiku_lastChats` in `message_db`) or `sharded` (seed 002's per-10000-users layout).
    pub layout: MessageLayout,
    /// Sharded layout: the database of per-owner message collections (seed 002: `shiku_msgs`).
    pub sharded_msgs_db: String,
    /// Sharded layout: the database of conversation rows (seed 002: `shiku_lastChats`).
    pub sharded_last_chats_db: String,
}

/// How an existing Shiku MongoDB lays out `shiku_msgs` and `shiku_lastChats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageLayout {
    /// The open-source reference: `<message_db>.shiku_msgs` and `<message_db>.shiku_lastChats`.
    #[default]
    Reference,
    /// The seed-002 deployment: databases `shiku_msgs` (collection `userId / 10000` per owner)
    /// and `shiku_lastChats` (`userId / 10000` for single chats, `lastChats_muc` for rooms).
    Sharded,
}

/// Which SMS sender `sms.sender` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsSenderKind {
    /// The code goes to the server log (development).
    Log,
    /// A webhook of any SMS gateway (`sms.http`).
    Http,
}

/// SMS codes (`/basic/randcode/sendSms`), image codes (`/getImgCode`) and their limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    pub sender: SmsSenderKind,
    /// The message; `{code}`, `{minutes}`, `{phone}`, `{areaCode}`, `{telephone}` are filled in.
    pub template: String,
    /// Digits of a code (4 to 10).
    pub code_length: usize,
    /// How long a code can be used, seconds.
    pub code_ttl_secs: i64,
    /// Guesses at one code before it is dropped.
    pub max_attempts: i64,
    /// Least time between two codes to one phone, seconds.
    pub resend_secs: i64,
    /// Codes to one phone per day.
    pub per_phone_per_day: i64,
    /// Codes requested from one client address per hour.
    pub per_address_per_hour: i64,
    /// Require the code of `/getImgCode` before an SMS is sent.
    pub image_code: bool,
    /// How long an image code can be used, seconds.
    pub image_code_ttl_secs: i64,
    pub http: SmsHttpConfig,
}

/// The webhook of `sms.sender = "http"`: `url` and `body` take the placeholders of `template`
/// and `{text}` (the filled template), escaped for where they stand (the URL, or the body's
/// `content_type`: JSON or form).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsHttpConfig {
    pub url: String,
    pub method: String,
    pub content_type: String,
    pub body: String,
    /// Extra headers (an API key or `Authorization`).
    pub headers: std::collections::BTreeMap<String, String>,
    pub timeout_secs: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            sender: SmsSenderKind::Log,
            template: "您的验证码是 {code}，{minutes} 分钟内有效。".into(),
            code_length: 6,
            code_ttl_secs: 300,
            max_attempts: 5,
            resend_secs: 60,
            per_phone_per_day: 10,
            per_address_per_hour: 30,
            image_code: false,
            image_code_ttl_secs: 300,
            http: SmsHttpConfig::default(),
        }
    }
}

impl Default for SmsHttpConfig {
    fn default() -> Self {
        SmsHttpConfig {
            url: String::new(),
            method: "POST".into(),
            content_type: "application/json".into(),
            body: r#"{"phone":"{phone}","text":"{text}"}"#.into(),
            headers: Default::default(),
            timeout_secs: 10,
        }
    }
}

/// Tokens and request signatures.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `apiKey` of the signature rule `md5(apiKey + time + userId + access_token)`.
    pub api_key: String,
    pub signature: SignatureMode,
    /// Allowed clock difference for `time`, seconds.
    pub signature_window_secs: i64,
    /// HS256 key for access tokens; generated and kept in the store when empty.
    pub jwt_secret: String,
    /// Token lifetime, seconds (the reference's `expires_in`).
    pub token_ttl_secs: i64,
    /// `apiKey` of the newest Vue clients' hardened dialect (README "The hardened dialect"):
    /// it must equal the key built into the client, which signs before it reads `/config`.
    pub hardened_api_key: String,
    /// The server key (base64 of 32 bytes) sealing every user's login verifier and deriving
    /// each session's `httpKey`; empty = read from `server_key_file`. Never kept in the store.
    pub server_key: String,
    /// Where the server key lives when `server_key` is empty; made on first start. Empty =
    /// `<data_dir>/server.key`. Every node of a cluster needs the same key.
    pub server_key_file: String,
    /// Earlier server keys (base64), still opened after a rotation; a verifier sealed under
    /// one is sealed again under the current key the next time it is used.
    pub previous_server_keys: Vec<String>,
    /// How long a one-time login key of `/auth/getLoginCode` can be used, seconds.
    pub login_code_ttl_secs: i64,
    /// How often one signed request (one `salt` and `secret`) of the hardened dialect is
    /// accepted within the signature window: its login sends steps 1 and 2 twice each.
    pub max_secret_uses: u32,
    /// Signed requests remembered for the replay check (in memory, per node).
    pub replay_entries: u64,
}

/// Password checks (README "Logins"): every check runs through one bounded argon2 pool and one
/// limiter of failed attempts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// Hashes computed at once; 0 = the number of cores.
    pub hash_workers: usize,
    /// Checks waiting for a worker; beyond it a check is refused as busy.
    pub hash_queue: usize,
    /// Longest a check waits for a worker before it is refused as busy, milliseconds.
    pub hash_wait_ms: u64,
    /// argon2id memory for new hashes, KiB (stored hashes keep their own parameters).
    pub argon2_memory_kib: u32,
    /// argon2id passes for new hashes.
    pub argon2_iterations: u32,
    /// argon2id lanes for new hashes.
    pub argon2_parallelism: u32,
    /// How long a successful check lets the same password back in without hashing, seconds
    /// (0 = always hash).
    pub verifier_ttl_secs: u64,
    /// Users whose last successful check is remembered (in memory only).
    pub verifier_entries: u64,
    /// Failed checks of one account within `window_secs` before the back-off starts.
    pub account_free_failures: u32,
    /// Failed checks from one address within `window_secs` before the back-off starts.
    pub source_free_failures: u32,
    /// How long a failure counts, seconds.
    pub window_secs: u64,
    /// The first back-off delay, seconds; each further failure doubles it.
    pub first_delay_secs: u64,
    /// The longest back-off delay, seconds (a block always ends).
    pub max_delay_secs: u64,
    /// Accounts and addresses whose failures are tracked (in memory).
    pub tracked_entries: u64,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        // argon2id m=19 MiB, t=2, p=1: the OWASP minimum and the argon2 crate's default.
        PasswordConfig {
            hash_workers: 0,
            hash_queue: 1024,
            hash_wait_ms: 10_000,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            verifier_ttl_secs: 86_400,
            verifier_entries: 200_000,
            account_free_failures: 5,
            source_free_failures: 20,
            window_secs: 900,
            first_delay_secs: 2,
            max_delay_secs: 300,
            tracked_entries: 100_000,
        }
    }
}

impl PasswordConfig {
    /// `hash_workers` with 0 resolved to the number of cores.
    pub fn workers(&self) -> usize {
        match self.hash_workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

/// The system configuration clients read through `/config` (reference `config` document).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    pub xmpp_domain: String,
    pub xmpp_host: String,
    /// Seconds; `xmppPingTime` = this / 2.5.
    pub xmpp_timeout: i32,
    pub api_url: String,
    pub upload_url: String,
    pub download_url: String,
    pub download_avatar_url: String,
    pub jitsi_server: String,
    pub live_url: String,
    pub is_open_sms_code: i32,
    pub is_open_register: i32,
    pub is_open_receipt: i32,
    pub is_open_read_receipt: i32,
    pub register_invite_code: i32,
    pub regedit_phone_or_name: i32,
    pub is_open_room_search: i32,
    pub is_open_online_status: i32,
    pub nickname_search_user: i32,
    pub show_contacts_user: i32,
    pub file_valid_time: i32,
    pub chat_record_time_out: f64,
    pub video_len: String,
    pub audio_len: String,
    pub company_name: String,
    pub copyright: String,
    pub website: String,
    pub help_url: String,
    pub share_url: String,
    pub soft_url: String,
    pub privacy_policy_prefix: String,
    pub android_version: i32,
    pub ios_version: i32,
    pub android_app_url: String,
    pub ios_app_url: String,
    pub pc_app_url: String,
    pub mac_app_url: String,
    /// Defaults of a new user's settings (reference config `isFriendsVerify`, …).
    pub friends_verify: i32,
    pub multiple_devices: i32,
    pub telephone_search_user: i32,
    pub roaming_time: f64,
    pub show_last_login_time: i32,
    pub show_telephone: i32,
    /// Phones (areaCode+phone, comma separated) every new user is auto-friended with.
    pub default_telephones: String,
    /// XMPP WebSocket URL `/config` advertises (`xmppUrl`); empty: `ws://<Host>/xmpp-websocket`.
    pub xmpp_url: String,
    /// BOSH URL `/config` advertises (`boshUrl`); empty: `http://<Host>/http-bind`.
    pub bosh_url: String,
    /// The unit of `timeSend` in history answers (`/tigase/shiku_msgs`, `shiku_muc_msgs`,
    /// `getLastChatList`, `getMessage`, search).
    pub history_time_unit: HistoryTimeUnit,
}

/// Several equal nodes behind a load balancer, sharing one MongoDB; live traffic between them
/// (deliveries, kicks, settings) goes over NATS. Setting `nats_url` turns cluster mode on.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's id: letters, digits, `-` and `_`, at most 64 (default: the host name).
    /// Every node of a cluster needs its own; presence records which node holds a session.
    pub node_id: String,
    /// The NATS server(s), comma separated (`nats://10.0.0.5:4222,nats://10.0.0.6:4222`);
    /// unset: one node, no bus.
    pub nats_url: Option<String>,
    /// NATS authentication: a token, or a user and password, or a `.creds` file.
    pub nats_token: Option<String>,
    pub nats_user: Option<String>,
    pub nats_password: Option<String>,
    pub nats_credentials_file: Option<PathBuf>,
    /// TLS to NATS: required (`tls://` URLs require it too), with this CA bundle (PEM) when
    /// the server's certificate is not signed by a public CA, and a client certificate and key
    /// when the server asks for one.
    pub nats_tls_required: bool,
    pub nats_tls_ca_file: Option<PathBuf>,
    pub nats_tls_cert_file: Option<PathBuf>,
    pub nats_tls_key_file: Option<PathBuf>,
    /// Subject prefix, so that several clusters can share one NATS.
    pub subject_prefix: String,
    /// Seconds between this node's heartbeats in MongoDB.
    pub heartbeat_secs: u64,
    /// A node whose heartbeat is older than this is dead: the survivors mark its users offline.
    /// A crashed node's users are therefore offline everywhere within `dead_after_secs` +
    /// `heartbeat_secs`.
    pub dead_after_secs: u64,
    /// How long a delivery to another node may take before the message goes to the offline
    /// queue instead, milliseconds.
    pub request_timeout_ms: u64,
    /// Messages from the bus a node holds before it stops reading (per subscription).
    pub max_pending: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node_id: default_node_id(),
            nats_url: None,
            nats_token: None,
            nats_user: None,
            nats_password: None,
            nats_credentials_file: None,
            nats_tls_required: false,
            nats_tls_ca_file: None,
            nats_tls_cert_file: None,
            nats_tls_key_file: None,
            subject_prefix: "shiku".into(),
            heartbeat_secs: 2,
            dead_after_secs: 10,
            request_timeout_ms: 2000,
            max_pending: 8192,
        }
    }
}

impl ClusterConfig {
    /// Whether this node is one of several (the bus is configured).
    pub fn enabled(&self) -> bool {
        self.nats_url
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty())
    }
}

/// The host name, in the characters a node id may hold.
fn default_node_id() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length; gethostname NUL-terminates within it.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let name = if ok {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    let id: String = name
        .chars()
        .map(|c| if valid_node_char(c) { c } else { '-' })
        .take(64)
        .collect();
    if id.is_empty() {
        "node".into()
    } else {
        id
    }
}

fn valid_node_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The XMPP gateway. The domain is `client.xmpp_domain` (what `/config` tells clients); rooms
/// live at `muc.<domain>`. WebSocket (`/xmpp-websocket`) and BOSH (`/http-bind`) are always
/// served on the main listener too; the listeners below add the reference's own ports.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct XmppConfig {
    /// RFC 7395 WebSocket listener, any path (reference 5290).
    pub listen_websocket: Option<String>,
    /// BOSH listener, any path (reference Tigase 5280).
    pub listen_bosh: Option<String>,
    /// Plain TCP c2s with STARTTLS (reference 5222).
    pub listen_tcp: Option<String>,
    /// Shiku's binary WebSocket protocol listener, any path (reference 5260); `/im-websocket`
    /// on the main listener serves it too.
    pub listen_shiku_ws: Option<String>,
    /// PEM certificate chain and private key for STARTTLS; when both are empty a self-signed
    /// pair for the domain is generated once under `data_dir/tls/`.
    pub tls_cert: String,
    pub tls_key: String,
    /// A session that sends nothing (not even a ping) for this long is closed, seconds.
    pub idle_timeout_secs: u64,
    /// Largest stanza (or WebSocket frame, or BOSH body) accepted, bytes.
    pub max_stanza_bytes: usize,
    /// Most attributes one XML element may carry; more is a `policy-violation` stream error.
    pub max_attributes: usize,
    /// Longest `wait` a BOSH client may ask for, seconds.
    pub bosh_max_wait_secs: u64,
    /// A BOSH session with no request pending for this long is ended, seconds.
    pub bosh_inactivity_secs: u64,
    /// Offline messages written per batch at login.
    pub offline_batch: u32,
    /// Items one user's offline queue holds at most; beyond, the oldest are dropped (archived
    /// messages stay in history, where clients page them).
    pub offline_max_messages: u64,
    /// Payload bytes one user's offline queue holds at most (oldest dropped beyond).
    pub offline_max_bytes: u64,
    /// Bytes of messages queued for one session (any protocol) before it is ended as too slow;
    /// what did not fit goes to the offline queue.
    pub session_queue_bytes: usize,
    /// Bytes of written, unconfirmed 1:1 messages one session may hold (besides 5,000 of them).
    pub max_unacked_bytes: usize,
    /// A client that does not take a write for this long is disconnected, seconds.
    pub write_timeout_secs: u64,
    /// XMPP TCP clients must STARTTLS before SASL (the password never crosses in clear text);
    /// `false` also offers PLAIN on the unencrypted stream.
    pub require_tls: bool,
    /// An XMPP TCP connection that has not authenticated within this many seconds is closed.
    pub auth_timeout_secs: u64,
}

impl Default for XmppConfig {
    fn default() -> Self {
        XmppConfig {
            listen_websocket: None,
            listen_bosh: None,
            listen_tcp: None,
            listen_shiku_ws: None,
            tls_cert: String::new(),
            tls_key: String::new(),
            idle_timeout_secs: 300,
            max_stanza_bytes: 256 * 1024,
            max_attributes: DEFAULT_MAX_ATTRIBUTES,
            bosh_max_wait_secs: 60,
            bosh_inactivity_secs: 60,
            offline_batch: 100,
            offline_max_messages: 10_000,
            offline_max_bytes: 64 << 20,
            session_queue_bytes: 4 << 20,
            max_unacked_bytes: 8 << 20,
            write_timeout_secs: 30,
            require_tls: true,
            auth_timeout_secs: 30,
        }
    }
}

/// Uploads and downloads. `listen_upload` (reference 8088) and `listen_files` (8089) serve the
/// upload paths and the stored tree as the main listener does.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// Root of the stored tree; URL path == file path under it. Empty: `data_dir/files`.
    pub root: PathBuf,
    /// Largest single uploaded file, bytes.
    pub max_file_bytes: u64,
    /// Largest upload request (all parts together), bytes.
    pub max_request_bytes: u64,
    /// URL prefix of `oUrl`/`tUrl` (the reference's `domain`, e.g. `http://host:8089`); empty:
    /// `<scheme>://<Host of the upload request>`.
    pub public_url: String,
    /// How often expired uploads (`validTime`) are deleted, seconds (reference: 12 h).
    pub expiry_interval_secs: u64,
    /// Refuse uploads without a valid `access_token` (the reference's upload service has no
    /// authentication and the web clients post their forms without one, hence off by default).
    pub require_token: bool,
    /// Largest number of parts (files and text fields) in one upload form.
    pub max_parts: usize,
    /// Largest image decoded (width × height); larger images are refused before decoding.
    pub max_image_pixels: u64,
    /// Images decoded at once in the whole process (each may take `max_image_pixels` × 4 bytes).
    pub image_decoders: usize,
    /// Decodes waiting for a decoder; beyond it an image is refused as busy.
    pub image_queue: usize,
    /// Longest an image waits for a decoder, milliseconds.
    pub image_wait_ms: u64,
    /// Longest side of a stored avatar, pixels (larger ones are scaled down).
    pub avatar_max_side: u32,
    /// Days until an anonymous upload (no token, and not from an address its `userId` logged
    /// in from) expires; 0 = never.
    pub anonymous_valid_days: f64,
    /// Anonymous upload requests one address may make per minute.
    pub anonymous_uploads_per_minute: u32,
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            root: PathBuf::new(),
            max_file_bytes: 100 * 1024 * 1024,
            max_request_bytes: 200 * 1024 * 1024,
            public_url: String::new(),
            expiry_interval_secs: 12 * 3600,
            require_token: false,
            max_parts: 32,
            max_image_pixels: 40_000_000,
            image_decoders: 1,
            image_queue: 32,
            image_wait_ms: 30_000,
            avatar_max_side: 1080,
            anonymous_valid_days: 30.0,
            anonymous_uploads_per_minute: 30,
        }
    }
}

impl FilesConfig {
    /// The stored tree's root directory.
    pub fn root_dir(&self, data_dir: &Path) -> PathBuf {
        if self.root.as_os_str().is_empty() {
            data_dir.join("files")
        } else {
            self.root.clone()
        }
    }
}

/// Request limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest form or query body accepted, bytes.
    pub max_form_bytes: usize,
    /// Message bytes one history page (`shiku_msgs`, `shiku_muc_msgs`, `getLastChatList`, the
    /// binary protocol's pulls) carries at most; a page stops early rather than exceed it.
    pub max_page_bytes: usize,
    /// Message bytes all history pages being built at once may hold together (every page's
    /// rows count until the page is done); beyond it a page stops early, and one with no row
    /// yet waits up to 10 s, then is refused as busy (1040106).
    pub max_pages_bytes: usize,
    /// Favourites one user keeps at most (`/emoji/add`).
    pub max_favourites: u64,
    /// Courses one user keeps at most (`/course/add`).
    pub max_courses: u64,
    /// Reports of one reporter waiting for review at most (`/user/report`).
    pub max_waiting_reports: u64,
    /// How far `/nearby/user` looks at most, metres (its `distance` may only narrow it).
    pub nearby_max_distance: f64,
    /// Connections (dedicated listeners) plus HTTP requests in flight one client address may
    /// hold at once; trusted proxies are not counted (their clients are, by the address they
    /// forward). 0 = unlimited.
    pub max_connections_per_address: u32,
    /// Longest a form body may take to arrive, seconds.
    pub body_timeout_secs: u64,
    /// Uploads: longest pause between two pieces of the body, seconds.
    pub upload_idle_secs: u64,
    /// Uploads: the average rate a body must keep after its first `upload_idle_secs`, bytes/s.
    pub upload_min_rate: u64,
}

/// Room flags imposed on every new room (`/room/add`), as the reference takes them from its
/// system `config` document: a value other than -1 overwrites what the client sent; -1 keeps
/// the client's parameter (or, when the client sent none, the reference default in brackets).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomConfig {
    /// Largest room [1000]; also the upper bound of `/room/update maxUserSize`.
    pub max_user_size: i32,
    /// Notify the room when a member leaves or is removed [1].
    pub is_attrition_notice: i32,
    /// 1 private (not searchable), 0 public [1].
    pub is_look: i32,
    /// Read receipts shown [0].
    pub show_read: i32,
    /// Invitations need the owner's approval [0].
    pub is_need_verify: i32,
    /// Members may see the member list [1].
    pub show_member: i32,
    /// Members may send contact cards [1].
    pub allow_send_card: i32,
    /// Members may invite [1].
    pub allow_invite_friend: i32,
    /// Members may upload shared files [1].
    pub allow_upload_file: i32,
    /// Members may start conferences [1].
    pub allow_conference: i32,
    /// Members may give lectures [1].
    pub allow_speak_course: i32,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            max_user_size: 1000,
            is_attrition_notice: 1,
            is_look: 1,
            show_read: 0,
            is_need_verify: 0,
            show_member: 1,
            allow_send_card: 1,
            allow_invite_friend: 1,
            allow_upload_file: 1,
            allow_conference: 1,
            allow_speak_course: 1,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "0.0.0.0:8092".into(),
            listen_api: None,
            listen_upload: None,
            listen_files: None,
            data_dir: PathBuf::from("data"),
            store: StoreKind::Sqlite,
            mongodb: MongoConfig::default(),
            auth: AuthConfig::default(),
            passwords: PasswordConfig::default(),
            trusted_proxies: vec![
                std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ],
            client: ClientConfig::default(),
            limits: Limits::default(),
            rooms: RoomConfig::default(),
            xmpp: XmppConfig::default(),
            cluster: ClusterConfig::default(),
            files: FilesConfig::default(),
            sms: SmsConfig::default(),
            first_user_id: 100100,
            log: "info".into(),
            access_log: false,
            integration_key: String::new(),
        }
    }
}

impl Default for MongoConfig {
    fn default() -> Self {
        MongoConfig {
            uri: "mongodb://127.0.0.1:27017".into(),
            api_db: "imapi".into(),
            room_db: "imRoom".into(),
            message_db: "tigase".into(),
            layout: MessageLayout::Reference,
            sharded_msgs_db: "shiku_msgs".into(),
            sharded_last_chats_db: "shiku_lastChats".into(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            api_key: String::new(),
            signature: SignatureMode::Off,
            signature_window_secs: 180,
            jwt_secret: String::new(),
            token_ttl_secs: 3_024_000,
            hardened_api_key: "5e29f483c48848".into(),
            server_key: String::new(),
            server_key_file: String::new(),
            previous_server_keys: Vec::new(),
            login_code_ttl_secs: 60,
            max_secret_uses: 2,
            replay_entries: 200_000,
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            xmpp_domain: "im.shiku.local".into(),
            xmpp_host: "127.0.0.1".into(),
            xmpp_timeout: 180,
            api_url: "http://127.0.0.1:8092".into(),
            upload_url: "http://127.0.0.1:8092/".into(),
            download_url: "http://127.0.0.1:8092/".into(),
            download_avatar_url: "http://127.0.0.1:8092/".into(),
            jitsi_server: String::new(),
            live_url: String::new(),
            is_open_sms_code: 0,
            is_open_register: 1,
            is_open_receipt: 1,
            is_open_read_receipt: 1,
            register_invite_code: 0,
            regedit_phone_or_name: 0,
            is_open_room_search: 1,
            is_open_online_status: 1,
            nickname_search_user: 2,
            show_contacts_user: 1,
            file_valid_time: -1,
            chat_record_time_out: -1.0,
            video_len: "20".into(),
            audio_len: "20".into(),
            company_name: String::new(),
            copyright: String::new(),
            website: String::new(),
            help_url: String::new(),
            share_url: String::new(),
            soft_url: String::new(),
            privacy_policy_prefix: String::new(),
            android_version: 0,
            ios_version: 0,
            android_app_url: String::new(),
            ios_app_url: String::new(),
            pc_app_url: String::new(),
            mac_app_url: String::new(),
            friends_verify: 1,
            multiple_devices: 1,
            telephone_search_user: 1,
            roaming_time: -2.0,
            show_last_login_time: 1,
            // Friends only: a stranger sees no phone number unless its owner opens it.
            show_telephone: 2,
            default_telephones: String::new(),
            xmpp_url: String::new(),
            history_time_unit: HistoryTimeUnit::Seconds,
            bosh_url: String::new(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_form_bytes: 1024 * 1024,
            max_page_bytes: 8 << 20,
            max_pages_bytes: 24 << 20,
            max_favourites: 2000,
            max_courses: 500,
            max_waiting_reports: 100,
            nearby_max_distance: 1_000_000.0,
            max_connections_per_address: 1000,
            body_timeout_secs: 30,
            upload_idle_secs: 30,
            upload_min_rate: 8 * 1024,
        }
    }
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("invalid config file {0}: {1}")]
    Parse(PathBuf, String),
    #[error("invalid environment variable {0}: {1}")]
    Env(String, String),
}

impl Config {
    /// Loads defaults, then the file (explicit path, or `shiku.toml` in the working directory
    /// when it exists), then `SHIKU_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = toml::Table::new();
        let path = match file {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from("shiku.toml")).filter(|p| p.exists()),
        };
        if let Some(path) = &path {
            let text =
                std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.clone(), e))?;
            table = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Parse(path.clone(), e.to_string()))?;
        }
        let defaults = toml::Value::try_from(Config::default()).expect("defaults serialise");
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("SHIKU_") else {
                continue;
            };
            // SHIKU_CONFIG names the file itself; test-only variables are not settings.
            if rest == "CONFIG" || rest.starts_with("TEST_") {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            let typed = env_value(&value, lookup(&defaults, &path))
                .map_err(|e| ConfigError::Env(key.clone(), e))?;
            set_path(&mut table, &path, typed);
        }
        let source = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "environment".into());
        Config::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::Parse(PathBuf::from(source), e.to_string()))
    }

    /// Every listener address of this configuration, main one first.
    pub fn listen_addrs(&self) -> Vec<String> {
        let mut v = vec![self.listen.clone()];
        for a in [&self.listen_api, &self.listen_upload, &self.listen_files]
            .into_iter()
            .flatten()
        {
            if !v.contains(a) {
                v.push(a.clone());
            }
        }
        v
    }

    /// Checks values that would only fail later.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for a in self.listen_addrs() {
            a.parse::<SocketAddr>()
                .map_err(|e| ConfigError::Env("listen".into(), format!("{a}: {e}")))?;
        }
        if self.rooms.max_user_size == 0 || self.rooms.max_user_size < -1 {
            return Err(ConfigError::Env(
                "rooms.max_user_size".into(),
                "must be positive, or -1 to let clients choose".into(),
            ));
        }
        let r = &self.rooms;
        for (name, v) in [
            ("is_attrition_notice", r.is_attrition_notice),
            ("is_look", r.is_look),
            ("show_read", r.show_read),
            ("is_need_verify", r.is_need_verify),
            ("show_member", r.show_member),
            ("allow_send_card", r.allow_send_card),
            ("allow_invite_friend", r.allow_invite_friend),
            ("allow_upload_file", r.allow_upload_file),
            ("allow_conference", r.allow_conference),
            ("allow_speak_course", r.allow_speak_course),
        ] {
            if !(-1..=1).contains(&v) {
                return Err(ConfigError::Env(
                    format!("rooms.{name}"),
                    "must be 0, 1 or -1 (keep the client's value)".into(),
                ));
            }
        }
        let f = &self.files;
        if f.max_file_bytes == 0 || f.max_request_bytes == 0 || f.expiry_interval_secs == 0 {
            return Err(ConfigError::Env(
                "files".into(),
                "max_file_bytes, max_request_bytes and expiry_interval_secs must be positive"
                    .into(),
            ));
        }
        // Everything under the files root is downloadable: the database and TLS key must not be.
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        if abs(&self.data_dir).starts_with(abs(&f.root_dir(&self.data_dir))) {
            return Err(ConfigError::Env(
                "files.root".into(),
                "must not contain data_dir (the database and keys would be downloadable)".into(),
            ));
        }
        let c = &self.cluster;
        if c.node_id.is_empty() || c.node_id.len() > 64 || !c.node_id.chars().all(valid_node_char) {
            return Err(ConfigError::Env(
                "cluster.node_id".into(),
                "must be 1 to 64 letters, digits, '-' or '_'".into(),
            ));
        }
        if c.subject_prefix.is_empty()
            || !c
                .subject_prefix
                .split('.')
                .all(|t| !t.is_empty() && t.chars().all(valid_node_char))
        {
            return Err(ConfigError::Env(
                "cluster.subject_prefix".into(),
                "must be dot-separated tokens of letters, digits, '-' or '_'".into(),
            ));
        }
        if c.enabled() {
            if self.store != StoreKind::Mongodb {
                return Err(ConfigError::Env(
                    "cluster.nats_url".into(),
                    "several nodes share their state in MongoDB: set store = \"mongodb\" \
                     (the embedded SQLite store belongs to one node)"
                        .into(),
                ));
            }
            if c.heartbeat_secs == 0
                || c.dead_after_secs < 2 * c.heartbeat_secs
                || c.request_timeout_ms == 0
                || c.max_pending == 0
            {
                return Err(ConfigError::Env(
                    "cluster".into(),
                    "heartbeat_secs, request_timeout_ms and max_pending must be positive, and \
                     dead_after_secs at least twice heartbeat_secs"
                        .into(),
                ));
            }
        }
        if self.first_user_id < 10_006 {
            return Err(ConfigError::Env(
                "first_user_id".into(),
                "must be above the system ids (>= 10006)".into(),
            ));
        }
        Ok(())
    }
}

/// Types an environment value like the setting it overrides (a string where the default is a
/// string, a number where it is a number).
fn env_value(v: &str, default: Option<&toml::Value>) -> Result<toml::Value, String> {
    Ok(match default {
        Some(toml::Value::Integer(_)) => {
            toml::Value::Integer(v.parse().map_err(|_| format!("{v:?} is not an integer"))?)
        }
        Some(toml::Value::Float(_)) => {
            toml::Value::Float(v.parse().map_err(|_| format!("{v:?} is not a number"))?)
        }
        Some(toml::Value::Boolean(_)) => {
            toml::Value::Boolean(v.parse().map_err(|_| format!("{v:?} is not true/false"))?)
        }
        // Lists (`trusted_proxies`) as comma-separated text.
        Some(toml::Value::Array(_)) => toml::Value::Array(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(v.to_string()),
    })
}

fn lookup<'a>(v: &'a toml::Value, path: &[String]) -> Option<&'a toml::Value> {
    path.iter().try_fold(v, |v, k| v.get(k.as_str()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (first, rest) = path.split_first().expect("non-empty path");
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return;
    }
    let entry = table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !entry.is_table() {
        *entry = toml::Value::Table(toml::Table::new());
    }
    if let toml::Value::Table(t) = entry {
        set_path(t, rest, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_start_embedded() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.store, StoreKind::Sqlite);
        assert_eq!(c.auth.signature, SignatureMode::Off);
        c.validate().unwrap();
    }

    #[test]
    fn a_cluster_needs_mongodb_and_a_valid_node_id() {
        let c = Config::load(
            None,
            env(&[("SHIKU_CLUSTER__NATS_URL", "nats://127.0.0.1:4222")]),
        )
        .unwrap();
        assert!(c.cluster.enabled());
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("cluster.nats_url") && e.contains("mongodb"),
            "{e}"
        );
        let c = Config::load(
            None,
            env(&[
                ("SHIKU_CLUSTER__NATS_URL", "nats://127.0.0.1:4222"),
                ("SHIKU_STORE", "mongodb"),
                ("SHIKU_CLUSTER__NODE_ID", "api-1"),
            ]),
        )
        .unwrap();
        c.validate().unwrap();
        let c = Config::load(None, env(&[("SHIKU_CLUSTER__NODE_ID", "a.b")])).unwrap();
        assert!(c.validate().is_err());
        // Without a bus the node id is still set, from the host name.
        let c = Config::load(None, env(&[])).unwrap();
        assert!(!c.cluster.enabled());
        assert!(!c.cluster.node_id.is_empty());
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        std::fs::write(
            &f,
            "listen = \"127.0.0.1:1\"\nfirst_user_id = 200000\n[auth]\napi_key = \"k\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&f),
            env(&[
                ("SHIKU_LISTEN", "127.0.0.1:2"),
                ("SHIKU_AUTH__SIGNATURE", "required"),
                ("SHIKU_CLIENT__XMPP_HOST", "10.0.0.1"),
                ("SHIKU_ROOMS__IS_LOOK", "-1"),
                ("SHIKU_TEST_MONGODB_URI", "ignored"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:2");
        assert_eq!(c.first_user_id, 200000);
        assert_eq!(c.auth.api_key, "k");
        assert_eq!(c.auth.signature, SignatureMode::Required);
        assert_eq!(c.client.xmpp_host, "10.0.0.1");
        assert_eq!(c.rooms.is_look, -1);
        assert_eq!(c.rooms.max_user_size, 1000);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = Config::load(None, env(&[("SHIKU_NO_SUCH", "1")])).unwrap_err();
        assert!(e.to_string().contains("no_such"), "{e}");
    }
}
