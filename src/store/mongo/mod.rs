//! The MongoDB adapter: reads and writes an existing Shiku database in the reference's
//! collection names and document shapes (spec/reference-server.md section 4), so the Java
//! server's data works unchanged. Server-owned values the reference does not have live in two
//! extra collections (`shiku_server_meta`, `shiku_token_versions`).

mod console;
mod courses;
mod favourites;
mod files;
mod friends;
mod menus;
mod messages;
mod org;
mod reports;
mod rooms;
mod sessions;
mod users;

use std::time::Duration;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{self, doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::patch::{Op, Patch, Val};
use super::{
    FriendStore, MetaStore, NearbyQuery, Shared, StoreError, StoreResult, UserQuery, UserStore,
};
use crate::config::MongoConfig;
use crate::documents::{Friend, LoginKeys, User, UserLoginLog, UserName, UserRole};

const USER: &str = "user";
const LOGIN_LOG: &str = "userLoginLog";
const ROLES: &str = "userRoles";
const ID_COUNTER: &str = "idx_user";
const FRIENDS: &str = "u_friends";
const META: &str = "shiku_server_meta";
const TOKEN_VERSIONS: &str = "shiku_token_versions";
/// Short-lived codes (login keys, SMS and image codes): `{_id, v, exp (ms), n (attempts)}`.
const SHORT_CODES: &str = "shiku_short_codes";

/// `_id` of the counter document when we create it; a fixed value so that two servers racing
/// to create it collide on the `_id` index instead of creating two counters.
const COUNTER_ID: &str = "userId";

/// Server-selection and connect timeout unless the URI sets them: a wrong URI must fail
/// start-up quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// The MongoDB store: the API database holding the reference collections, and the message
/// databases of the configured layout.
pub struct MongoStore {
    db: Database,
    /// Where single-chat history and conversation rows live.
    msgs: messages::MessageDbs,
    /// The room database (`imRoom`).
    rooms: rooms::RoomDbs,
    description: String,
}

impl MongoStore {
    /// Connects, checks the server answers a ping, and creates the indexes we query by.
    pub async fn connect(cfg: &MongoConfig) -> StoreResult<MongoStore> {
        MongoStore::connect_with(cfg, |_| {}).await
    }

    /// [`MongoStore::connect`] after `tweak` adjusts the driver's options (a command monitor,
    /// for example).
    pub async fn connect_with(
        cfg: &MongoConfig,
        tweak: impl FnOnce(&mut ClientOptions),
    ) -> StoreResult<MongoStore> {
        let description = describe(&cfg.uri, &cfg.api_db);
        let mut options = ClientOptions::parse(&cfg.uri).await.map_err(|e| {
            StoreError::Backend(format!("invalid MongoDB URI ({description}): {e}"))
        })?;
        // The URI's own `serverSelectionTimeoutMS` / `connectTimeoutMS` win (the connect timeout
        // also bounds the driver's heartbeats: a slow server needs a longer one).
        options
            .server_selection_timeout
            .get_or_insert(CONNECT_TIMEOUT);
        options.connect_timeout.get_or_insert(CONNECT_TIMEOUT);
        if options.app_name.is_none() {
            options.app_name = Some("shiku-server".into());
        }
        tweak(&mut options);
        let client = Client::with_options(options)
            .map_err(|e| StoreError::Backend(format!("MongoDB client ({description}): {e}")))?;
        let db = client.database(&cfg.api_db);
        db.run_command(doc! { "ping": 1 })
            .await
            .map_err(|e| StoreError::Backend(format!("cannot reach MongoDB {description}: {e}")))?;
        let msgs = messages::MessageDbs::new(&client, cfg);
        let rooms = rooms::RoomDbs::new(&client, cfg);
        let store = MongoStore {
            db,
            msgs,
            rooms,
            description,
        };
        store.create_indexes().await;
        store.create_message_indexes().await;
        store.create_room_indexes().await;
        store.create_org_indexes().await;
        store.create_file_indexes().await;
        store.create_session_indexes().await;
        Ok(store)
    }

    /// Human description for the start-up log (`mongodb:<hosts>/<db>`, never credentials).
    pub fn description(&self) -> String {
        self.description.clone()
    }

    fn coll(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    /// Creates the reference's indexes (4.2, 4.4). A real deployment may already hold an index
    /// on the same keys with other options, so failures only warn.
    async fn create_indexes(&self) {
        for field in [
            "userKey",
            "account",
            "areaCode",
            "telephone",
            "phone",
            "nickname",
            "encryAccount",
        ] {
            self.ensure_index(USER, doc! { field: 1 }, None).await;
        }
        // Registration needs telephone to be unique, but Shiku only indexes it non-uniquely.
        // A partial unique index under its own name leaves the reference's `telephone_1` alone
        // and ignores users without a telephone; it fails harmlessly on duplicated data.
        let unique = IndexOptions::builder()
            .name("telephone_unique".to_string())
            .unique(true)
            .partial_filter_expression(doc! { "telephone": { "$gt": "" } })
            .build();
        if !self
            .ensure_index(USER, doc! { "telephone": 1 }, Some(unique))
            .await
        {
            tracing::warn!(
                "no unique index on user.telephone: duplicate registrations are only prevented \
                 by a check before insert"
            );
        }
        self.ensure_index(FRIENDS, doc! { "userId": 1, "toUserId": 1 }, None)
            .await;
        self.ensure_index("menu", doc! { "userId": 1 }, None).await;
        // Who follows or blocks a user (fans, people nearby).
        self.ensure_index(FRIENDS, doc! { "toUserId": 1 }, None)
            .await;
        // `/nearby/user`. The reference indexes `loc` as `2d`; a `2dsphere` index reads the same
        // `{lng, lat}` pairs and measures on the sphere. It fails on a user with an impossible
        // position (the server never writes one): then the search answers an error, logged.
        if !self
            .ensure_index(USER, doc! { "loc": "2dsphere" }, None)
            .await
        {
            tracing::warn!("no 2dsphere index on user.loc: /nearby/user by position will fail");
        }
        self.ensure_index(ROLES, doc! { "userId": 1 }, None).await;
        self.ensure_index(SHORT_CODES, doc! { "exp": 1 }, None)
            .await;
    }

    /// Creates one index; true when it exists afterwards.
    async fn ensure_index(
        &self,
        collection: &str,
        keys: Document,
        options: Option<IndexOptions>,
    ) -> bool {
        ensure_index_on(&self.coll(collection), keys, options).await
    }

    async fn find_user(&self, filter: Document) -> StoreResult<Option<User>> {
        let found = self.coll(USER).find_one(filter).await.map_err(backend)?;
        found.map(|d| decode(USER, d)).transpose()
    }

    /// The largest numeric user `_id`, 0 when there is none.
    async fn max_user_id(&self) -> StoreResult<i64> {
        // `$type: number` keeps a stray ObjectId/string `_id` from winning the sort.
        let found = self
            .coll(USER)
            .find_one(doc! { "_id": { "$type": "number" } })
            .sort(doc! { "_id": -1 })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        Ok(found
            .and_then(|d| d.get("_id").and_then(bson_to_i64))
            .unwrap_or(0))
    }

    /// `$inc`s the counter document, if there is one, and returns the new id.
    async fn increment_counter(&self) -> StoreResult<Option<i64>> {
        // The reference reads the single counter with an empty filter, whatever its `_id`.
        let updated = self
            .coll(ID_COUNTER)
            .find_one_and_update(doc! {}, doc! { "$inc": { "id": 1 } })
            .return_document(ReturnDocument::After)
            .await
            .map_err(backend)?;
        match updated {
            None => Ok(None),
            Some(d) => match d.get("id").and_then(bson_to_i64) {
                Some(id) => Ok(Some(id)),
                None => Err(StoreError::Decode {
                    collection: ID_COUNTER.into(),
                    reason: "counter document has no numeric `id`".into(),
                }),
            },
        }
    }
}

#[async_trait]
impl MetaStore for MongoStore {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        let found = self
            .coll(META)
            .find_one(doc! { "_id": key })
            .await
            .map_err(backend)?;
        found.map(|d| meta_value(&d)).transpose()
    }

    async fn init_meta(&self, key: &str, value: &str) -> StoreResult<String> {
        let stored = self
            .coll(META)
            .find_one_and_update(
                doc! { "_id": key },
                doc! { "$setOnInsert": { "value": value } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await;
        match stored {
            Ok(Some(d)) => meta_value(&d),
            // A concurrent upsert won the insert (older servers do not retry it): read its value.
            Ok(None) => self.get_meta(key).await?.ok_or_else(missing_meta),
            Err(e) if error_code(&e) == Some(DUPLICATE_KEY) => {
                self.get_meta(key).await?.ok_or_else(missing_meta)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn token_version(&self, user_id: i32) -> StoreResult<i64> {
        let found = self
            .coll(TOKEN_VERSIONS)
            .find_one(doc! { "_id": user_id })
            .await
            .map_err(backend)?;
        Ok(found
            .and_then(|d| d.get("v").and_then(bson_to_i64))
            .unwrap_or(0))
    }

    async fn bump_token_version(&self, user_id: i32) -> StoreResult<i64> {
        let updated = self
            .coll(TOKEN_VERSIONS)
            .find_one_and_update(doc! { "_id": user_id }, doc! { "$inc": { "v": 1_i64 } })
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .map_err(backend)?;
        updated
            .and_then(|d| d.get("v").and_then(bson_to_i64))
            .ok_or_else(|| StoreError::Decode {
                collection: TOKEN_VERSIONS.into(),
                reason: format!("no numeric `v` for user {user_id}"),
            })
    }

    async fn put_code(&self, key: &str, value: &str, now_ms: i64, life_ms: i64) -> StoreResult<()> {
        let codes = self.coll(SHORT_CODES);
        codes
            .delete_many(doc! { "exp": { "$lt": now_ms } })
            .await
            .map_err(backend)?;
        codes
            .update_one(
                doc! { "_id": key },
                doc! { "$set": { "v": value, "exp": now_ms.saturating_add(life_ms), "n": 0_i64 } },
            )
            .upsert(true)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn take_code(&self, key: &str, now_ms: i64) -> StoreResult<Option<String>> {
        let found = self
            .coll(SHORT_CODES)
            .find_one_and_delete(doc! { "_id": key })
            .await
            .map_err(backend)?;
        Ok(found
            .filter(|d| d.get("exp").and_then(bson_to_i64).unwrap_or(0) >= now_ms)
            .and_then(|d| d.get_str("v").ok().map(str::to_string)))
    }

    async fn try_code(&self, key: &str, now_ms: i64) -> StoreResult<Option<(String, i64)>> {
        let found = self
            .coll(SHORT_CODES)
            .find_one_and_update(
                doc! { "_id": key, "exp": { "$gte": now_ms } },
                doc! { "$inc": { "n": 1_i64 } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(backend)?;
        Ok(found.and_then(|d| {
            let v = d.get_str("v").ok()?.to_string();
            Some((v, d.get("n").and_then(bson_to_i64).unwrap_or(1)))
        }))
    }
}

/// Creates one index on any collection; true when it exists afterwards. Failures only warn: a
/// real deployment may hold an index on the same keys with other options.
async fn ensure_index_on(
    coll: &Collection<Document>,
    keys: Document,
    options: Option<IndexOptions>,
) -> bool {
    let model = IndexModel::builder()
        .keys(keys.clone())
        .options(options)
        .build();
    match coll.create_index(model).await {
        Ok(_) => true,
        Err(e) => {
            let collection = coll.namespace().to_string();
            tracing::warn!(collection, keys = %keys, error = %e, "could not create index");
            false
        }
    }
}

/// Converts a patch into a MongoDB update document (`$set` / `$inc` / `$unset`), keeping the
/// value types the Java entities use. A later op on the same path replaces an earlier one.
pub fn patch_to_update(patch: &Patch) -> Document {
    let mut set = Document::new();
    let mut inc = Document::new();
    let mut unset = Document::new();
    for op in &patch.ops {
        match op {
            Op::Set(path, v) => {
                set.insert(path.clone(), val_to_bson(v));
            }
            Op::Inc(path, v) => {
                inc.insert(path.clone(), val_to_bson(v));
            }
            Op::Unset(path) => {
                unset.insert(path.clone(), "");
            }
        }
    }
    let mut update = Document::new();
    for (op, fields) in [("$set", set), ("$inc", inc), ("$unset", unset)] {
        if !fields.is_empty() {
            update.insert(op, fields);
        }
    }
    update
}

/// The BSON form of a patch value: I32 → Int32, I64 → Int64, F64 → Double.
pub fn val_to_bson(v: &Val) -> Bson {
    match v {
        Val::I32(i) => Bson::Int32(*i),
        Val::I64(i) => Bson::Int64(*i),
        Val::F64(f) => Bson::Double(*f),
        Val::Str(s) => Bson::String(s.clone()),
        Val::Bool(b) => Bson::Boolean(*b),
        Val::Json(j) => json_to_bson(j),
        Val::Null => Bson::Null,
    }
}

/// Plain JSON to BSON: integers become Int32 when they fit (Java `int`), else Int64. Unlike
/// bson's extended-JSON conversion, `$`-keys are kept as data, never interpreted.
pub fn json_to_bson(v: &serde_json::Value) -> Bson {
    use serde_json::Value;
    match v {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32)
            } else {
                Bson::Double(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(a) => Bson::Array(a.iter().map(json_to_bson).collect()),
        Value::Object(o) => Bson::Document(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_bson(v)))
                .collect(),
        ),
    }
}

/// The filter of `/user/query`.
pub fn user_query_filter(q: &UserQuery) -> Document {
    let mut id = doc! { "$gte": q.min_user_id };
    if let Some(before) = q.before {
        id.insert("$lt", before);
    }
    let mut filter = doc! { "_id": id };
    if let Some(nickname) = q.nickname.as_deref().filter(|n| !n.is_empty()) {
        filter.insert(
            "nickname",
            doc! { "$regex": escape_regex(nickname), "$options": "i" },
        );
    }
    if let Some(sex) = q.sex {
        filter.insert("sex", sex);
    }
    if let Some(range) = birthday_range(q.birthday_from, q.birthday_to) {
        filter.insert("birthday", range);
    }
    filter
}

/// A birthday range filter (seconds, both ends included), None when unbounded.
fn birthday_range(from: Option<i64>, to: Option<i64>) -> Option<Document> {
    let mut range = Document::new();
    if let Some(from) = from {
        range.insert("$gte", from);
    }
    if let Some(to) = to {
        range.insert("$lte", to);
    }
    (!range.is_empty()).then_some(range)
}

/// The `$geoNear` stage of a [`NearbyQuery`]: distances in metres into `distanceField`.
pub fn nearby_stage(q: &NearbyQuery, distance_field: &str) -> Document {
    let mut filter = doc! {
        "_id": { "$gte": q.min_user_id, "$nin": q.except.clone() },
        "status": { "$ne": -1 },
        "settings.isOpenPrivacyPosition": { "$ne": 0 },
        // 0,0 is the reference's "no position".
        "$or": [ { "loc.lat": { "$ne": 0 } }, { "loc.lng": { "$ne": 0 } } ],
    };
    if let Some(sex) = q.sex {
        filter.insert("sex", sex);
    }
    if let Some(range) = birthday_range(q.birthday_from, q.birthday_to) {
        filter.insert("birthday", range);
    }
    if let Some(since) = q.active_since {
        filter.insert("active", doc! { "$gte": since });
    }
    doc! {
        "$geoNear": {
            "near": { "type": "Point", "coordinates": [q.lng, q.lat] },
            "key": "loc",
            "spherical": true,
            "maxDistance": q.max_distance,
            "distanceField": distance_field,
            "query": filter,
        }
    }
}

/// Escapes regex metacharacters so user input matches literally (no injection, no ReDoS).
pub fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if "\\^$.|?*+()[]{}-/#".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `mongodb:<hosts>/<db>` from a connection URI, dropping credentials and options.
pub fn describe(uri: &str, db: &str) -> String {
    let (scheme, rest) = match uri.split_once("://") {
        Some(("mongodb+srv", rest)) => ("mongodb+srv", rest),
        Some((_, rest)) => ("mongodb", rest),
        None => ("mongodb", uri),
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    // Credentials end at the last '@' of the authority (a raw '@' may sit in a password).
    let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}:{hosts}/{db}")
}

/// Decodes a stored document, naming the collection and `_id` when it does not fit.
fn decode<T: DeserializeOwned>(collection: &str, doc: Document) -> StoreResult<T> {
    let id = doc.get("_id").map(|v| v.to_string()).unwrap_or_default();
    bson::from_document(doc).map_err(|e| StoreError::Decode {
        collection: collection.into(),
        reason: format!("_id {id}: {e}"),
    })
}

/// [`decode`] of a document whose ObjectId `_id` the shape reads as hex text.
fn decode_hex_id<T: DeserializeOwned>(collection: &str, mut doc: Document) -> StoreResult<T> {
    if let Some(Bson::ObjectId(oid)) = doc.get("_id") {
        let hex = oid.to_hex();
        doc.insert("_id", hex);
    }
    decode(collection, doc)
}

/// The `_id` filter of an id handed to clients (ObjectId hex, or another writer's string).
fn id_filter(id: &str) -> Bson {
    match bson::oid::ObjectId::parse_str(id) {
        Ok(oid) => Bson::ObjectId(oid),
        Err(_) => Bson::String(id.to_string()),
    }
}

fn encode<T: Serialize>(collection: &str, value: &T) -> StoreResult<Document> {
    bson::to_document(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode a {collection} document: {e}")))
}

fn meta_value(d: &Document) -> StoreResult<String> {
    d.get_str("value")
        .map(str::to_string)
        .map_err(|e| StoreError::Decode {
            collection: META.into(),
            reason: format!("_id {:?}: {e}", d.get("_id")),
        })
}

fn missing_meta() -> StoreError {
    StoreError::Backend("meta value missing after upsert".into())
}

/// Any numeric BSON value as i64 (Shiku writers disagree on int32/int64/double).
fn bson_to_f64(v: &Bson) -> Option<f64> {
    match v {
        Bson::Double(d) => Some(*d),
        other => bson_to_i64(other).map(|i| i as f64),
    }
}

fn bson_to_i64(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        Bson::Double(f) if f.is_finite() => Some(*f as i64),
        _ => None,
    }
}

/// The server's error code and message of a failed operation, if the server sent one.
fn server_error(e: &mongodb::error::Error) -> Option<(i32, &str)> {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some((c.code, c.message.as_str())),
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some((w.code, w.message.as_str())),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => Some((w.code, w.message.as_str())),
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .and_then(|w| w.first())
            .map(|w| (w.code, w.message.as_str())),
        _ => None,
    }
}

fn error_code(e: &mongodb::error::Error) -> Option<i32> {
    server_error(e).map(|(code, _)| code)
}

fn backend(e: mongodb::error::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Like [`backend`], but a duplicate key becomes `Duplicate` naming the index (not the value,
/// which may be a phone number).
fn write_error(e: mongodb::error::Error) -> StoreError {
    match server_error(&e) {
        Some((DUPLICATE_KEY, message)) => StoreError::Duplicate(duplicate_index(message)),
        _ => backend(e),
    }
}

/// The index named in an E11000 message (`... collection: db.user index: _id_ dup key: ...`).
fn duplicate_index(message: &str) -> String {
    message
        .split_once("index: ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("unique index")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::spec::ElementType;

    fn ty(d: &Document, path: &str) -> ElementType {
        let mut cur = d;
        let mut parts = path.split('.').peekable();
        while let Some(p) = parts.next() {
            let v = cur.get(p).unwrap_or_else(|| panic!("missing {path}"));
            if parts.peek().is_none() {
                return v.element_type();
            }
            cur = v
                .as_document()
                .unwrap_or_else(|| panic!("{p} is not a document"));
        }
        unreachable!()
    }

    #[test]
    fn patch_groups_ops_and_keeps_types() {
        let patch = Patch::new()
            .set("nickname", "n")
            .set("settings.allowAtt", 0)
            .set("birthday", 946_684_800_i64)
            .set("settings.chatRecordTimeOut", -1.0)
            .set("loc", Val::Json(serde_json::json!({"lng": 1.5, "lat": 2})))
            .set("flag", true)
            .set("payPassword", Val::Null)
            .inc("friendsCount", 1)
            .inc("active", 5_i64)
            .inc("money", 0.5)
            .unset("google")
            .unset("settings.filterCircleUserIds");
        let u = patch_to_update(&patch);
        let keys: Vec<&str> = u.keys().map(String::as_str).collect();
        assert_eq!(keys, ["$set", "$inc", "$unset"]);
        let set = u.get_document("$set").unwrap();
        assert_eq!(set.len(), 7);
        assert_eq!(ty(set, "nickname"), ElementType::String);
        // Update paths are literal dotted keys, not nested documents.
        let flat = |k: &str| set.get(k).map(Bson::element_type);
        assert_eq!(flat("settings.allowAtt"), Some(ElementType::Int32));
        assert_eq!(ty(set, "birthday"), ElementType::Int64);
        assert_eq!(
            flat("settings.chatRecordTimeOut"),
            Some(ElementType::Double)
        );
        assert_eq!(ty(set, "flag"), ElementType::Boolean);
        assert_eq!(ty(set, "payPassword"), ElementType::Null);
        let loc = set.get_document("loc").unwrap();
        assert_eq!(ty(loc, "lng"), ElementType::Double);
        assert_eq!(ty(loc, "lat"), ElementType::Int32);
        let inc = u.get_document("$inc").unwrap();
        assert_eq!(inc.get("friendsCount"), Some(&Bson::Int32(1)));
        assert_eq!(inc.get("active"), Some(&Bson::Int64(5)));
        assert_eq!(inc.get("money"), Some(&Bson::Double(0.5)));
        let unset = u.get_document("$unset").unwrap();
        let unset_keys: Vec<&str> = unset.keys().map(String::as_str).collect();
        assert_eq!(unset_keys, ["google", "settings.filterCircleUserIds"]);
    }

    #[test]
    fn patch_with_only_one_kind_has_only_that_operator() {
        let u = patch_to_update(&Patch::new().inc("msgNum", 1));
        assert_eq!(u, doc! { "$inc": { "msgNum": 1 } });
        assert!(patch_to_update(&Patch::new()).is_empty());
        // The last write to a path wins, as the patch is ordered.
        let u = patch_to_update(&Patch::new().set("a", 1).set("a", 2));
        assert_eq!(u, doc! { "$set": { "a": 2 } });
    }

    #[test]
    fn json_numbers_and_dollar_keys() {
        let b = json_to_bson(&serde_json::json!({
            "small": 7, "big": 5_000_000_000_i64, "f": 1.0, "arr": [1, "x", null],
            "$oid": "not-extended-json"
        }));
        let d = b.as_document().unwrap();
        assert_eq!(d.get("small"), Some(&Bson::Int32(7)));
        assert_eq!(d.get("big"), Some(&Bson::Int64(5_000_000_000)));
        assert_eq!(d.get("f"), Some(&Bson::Double(1.0)));
        assert_eq!(
            d.get("arr"),
            Some(&Bson::Array(vec![
                Bson::Int32(1),
                Bson::String("x".into()),
                Bson::Null
            ]))
        );
        assert_eq!(
            d.get("$oid"),
            Some(&Bson::String("not-extended-json".into()))
        );
    }

    /// The seed-002 `/user/get` user as MongoDB stores it, with fields we do not model.
    fn seed_user() -> Document {
        // Built in parts: one `doc!` this size exceeds the macro recursion limit.
        let mut d = doc! {
            "_id": 100164_i32,
            "account": "100164373329",
            "active": 0_i64,
            "areaCode": "86",
            "areaId": 0,
            "attCount": 0,
            "birthday": 0_i64,
            "cityId": 0,
            "countryId": 0,
            "createTime": 1612772503_i64,
            "description": "",
            "encryAccount": "ccaa643b00b40998dfb81f34ed8fdc78",
            "fansCount": 0,
            "friendsCount": 0,
            "idcard": "",
            "idcardUrl": "",
            "isAuth": 0,
            "isOpenResetPwd": 0,
            "isPasuse": 0,
            "level": 0,
            "loc": { "lat": 0.0, "lng": 0.0 },
            "modifyTime": 1612772503_i64,
            "msgNum": 0,
            "name": "",
            "nickname": "张益达",
            "num": 0,
        };
        d.extend(doc! {
            "offlineNoPushMsg": 0,
            "onlinestate": 0,
            "password": "1a850742f81ddc04da6f7648a4af0e47",
            "payPassword": "0",
            "phone": "18094152050",
            "provinceId": 0,
            "realNameCertified": 0,
            "setAccountCount": 0,
        });
        d.insert(
            "settings",
            doc! {
                    "allowAtt": 1,
                    "allowGreet": 1,
                    "authSwitch": 0,
                    "beInvitedJoinRoom": 0,
                    "chatRecordTimeOut": -1.0,
                    "chatSyncTimeLen": 30.0,
                    "closeTelephoneFind": 1,
                    "friendFromList": "1,2,3,4,5",
                    "friendsVerify": 1,
                    "hiding": -1,
                    "isKeepalive": 1,
                    "isOpenPrivacyPosition": 1,
                    "isShowMsgState": 1,
                    "isSkidRemoveHistoryMsg": 1,
                    "isTyping": 0,
                    "isUseGoogleMap": 0,
                    "isVibration": 0,
                    "multipleDevices": 1,
                    "nameSearch": 1,
                    "openService": 0,
                    "phoneSearch": 1,
                    "showLastLoginTime": -1,
                    "showTelephone": -1
            },
        );
        d.extend(doc! {
            "sex": 1,
            "status": 1,
            "telephone": "8618094152050",
            "totalConsume": 0.0,
            "totalRecharge": 0.0,
            "userKey": "aee198505eda1e401e36f36e2c0f4ab5",
            "userType": 2,
            "vip": 0,
            "walletUserNo": 0,
            "withdrawBurnReadTime": 0_i64
        });
        d
    }

    #[test]
    fn decodes_a_real_shiku_user_and_encodes_reference_types() {
        let user: User = decode(USER, seed_user()).unwrap();
        assert_eq!(user.user_id, 100164);
        assert_eq!(user.create_time, 1612772503);
        assert_eq!(user.telephone, "8618094152050");
        assert_eq!(user.nickname, "张益达");
        assert_eq!(user.user_type, 2);
        assert_eq!(user.pay_password.as_deref(), Some("0"));
        assert_eq!(user.settings.chat_record_time_out, -1.0);
        assert_eq!(user.settings.chat_sync_time_len, 30.0);
        assert_eq!(user.settings.show_telephone, -1);

        let d = bson::to_document(&user).unwrap();
        assert_eq!(ty(&d, "_id"), ElementType::Int32);
        assert_eq!(ty(&d, "createTime"), ElementType::Int64);
        assert_eq!(ty(&d, "birthday"), ElementType::Int64);
        assert_eq!(ty(&d, "sex"), ElementType::Int32);
        assert_eq!(ty(&d, "totalRecharge"), ElementType::Double);
        assert_eq!(ty(&d, "settings.chatRecordTimeOut"), ElementType::Double);
        assert_eq!(ty(&d, "settings.allowAtt"), ElementType::Int32);
        assert_eq!(ty(&d, "loc.lat"), ElementType::Double);
        assert_eq!(ty(&d, "loc.lng"), ElementType::Double);
        // A round trip through our type gives the same user back.
        assert_eq!(decode::<User>(USER, d).unwrap(), user);
    }

    #[test]
    fn decodes_other_number_widths() {
        let mut d = seed_user();
        d.insert("_id", 100165_i64);
        d.insert("createTime", 1612772503.0);
        d.insert("sex", 0.0);
        d.get_document_mut("settings")
            .unwrap()
            .insert("chatRecordTimeOut", -1_i32);
        let user: User = decode(USER, d).unwrap();
        assert_eq!(user.user_id, 100165);
        assert_eq!(user.create_time, 1612772503);
        assert_eq!(user.sex, 0);
        assert_eq!(user.settings.chat_record_time_out, -1.0);
    }

    #[test]
    fn undecodable_documents_name_collection_and_id() {
        let d = doc! { "_id": 7, "nickname": { "not": "a string" } };
        match decode::<User>(USER, d) {
            Err(StoreError::Decode { collection, reason }) => {
                assert_eq!(collection, "user");
                assert!(reason.contains("_id 7"), "{reason}");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }

    #[test]
    fn friend_and_login_log_round_trip() {
        let f = doc! {
            "_id": bson::oid::ObjectId::new(), "userId": 100164, "toUserId": 10000_i64,
            "toNickname": "客服公众号", "status": 2, "chatRecordTimeOut": -1.0,
            "createTime": 1612772503_i64, "toFriendsRole": [1, 2], "extra": "kept out",
        };
        let friend: Friend = decode(FRIENDS, f).unwrap();
        assert_eq!(friend.to_user_id, 10000);
        assert_eq!(friend.to_friends_role, vec![1, 2]);
        let d = bson::to_document(&friend).unwrap();
        assert!(d.get("_id").is_none());
        assert_eq!(ty(&d, "toUserId"), ElementType::Int32);
        assert_eq!(ty(&d, "chatRecordTimeOut"), ElementType::Double);

        let l = doc! {
            "_id": 100164,
            "loginLog": { "isFirstLogin": 0, "loginTime": 1612772503_i64, "model": "web" },
            "deviceMap": { "web": { "deviceKey": "web", "online": 1, "loginTime": 1_i64 } },
        };
        let log: UserLoginLog = decode(LOGIN_LOG, l).unwrap();
        assert_eq!(log.device_map["web"].online, 1);
        let d = bson::to_document(&log).unwrap();
        assert_eq!(ty(&d, "_id"), ElementType::Int32);
        assert_eq!(ty(&d, "loginLog.loginTime"), ElementType::Int64);
    }

    #[test]
    fn user_query_filter_escapes_and_combines() {
        let q = UserQuery {
            before: Some(100200),
            nickname: Some("a.b*(c)".into()),
            sex: Some(1),
            birthday_from: Some(10),
            birthday_to: Some(20),
            min_user_id: 100000,
            limit: 10,
        };
        assert_eq!(
            user_query_filter(&q),
            doc! {
                "_id": { "$gte": 100000, "$lt": 100200 },
                "nickname": { "$regex": r"a\.b\*\(c\)", "$options": "i" },
                "sex": 1,
                "birthday": { "$gte": 10_i64, "$lte": 20_i64 },
            }
        );
        let q = UserQuery {
            min_user_id: 10006,
            ..UserQuery::default()
        };
        assert_eq!(user_query_filter(&q), doc! { "_id": { "$gte": 10006 } });
    }

    #[test]
    fn regex_escape_covers_metacharacters() {
        assert_eq!(escape_regex("张益达"), "张益达");
        assert_eq!(
            escape_regex(r"^a$|b?c+d\e[f]{2}"),
            r"\^a\$\|b\?c\+d\\e\[f\]\{2\}"
        );
    }

    #[test]
    fn description_hides_credentials() {
        assert_eq!(
            describe("mongodb://127.0.0.1:27017", "imapi"),
            "mongodb:127.0.0.1:27017/imapi"
        );
        assert_eq!(
            describe(
                "mongodb://admin:s3cr@t@h1:27017,h2:27018/admin?replicaSet=rs0",
                "imapi_shiku"
            ),
            "mongodb:h1:27017,h2:27018/imapi_shiku"
        );
        assert_eq!(
            describe(
                "mongodb+srv://u:p@cluster0.example.net/?retryWrites=true",
                "imapi"
            ),
            "mongodb+srv:cluster0.example.net/imapi"
        );
    }

    #[test]
    fn numbers_read_leniently() {
        assert_eq!(bson_to_i64(&Bson::Int32(5)), Some(5));
        assert_eq!(bson_to_i64(&Bson::Int64(1 << 40)), Some(1 << 40));
        assert_eq!(bson_to_i64(&Bson::Double(100163.0)), Some(100163));
        assert_eq!(bson_to_i64(&Bson::String("1".into())), None);
    }

    #[test]
    fn duplicate_errors_name_the_index_only() {
        let m = "E11000 duplicate key error collection: imapi.user index: telephone_unique \
                 dup key: { telephone: \"8618094152050\" }";
        assert_eq!(duplicate_index(m), "telephone_unique");
        assert_eq!(duplicate_index("E11000 duplicate key"), "unique index");
    }

    /// A wrong address fails within the selection timeout, saying where, without the password.
    #[tokio::test]
    async fn unreachable_server_fails_fast_and_clearly() {
        let cfg = MongoConfig {
            uri: "mongodb://shiku:hunter2@127.0.0.1:1/?directConnection=true".into(),
            ..MongoConfig::default()
        };
        let started = std::time::Instant::now();
        let err = MongoStore::connect(&cfg)
            .await
            .err()
            .expect("no server on port 1");
        assert!(started.elapsed() < Duration::from_secs(15));
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Backend(_)), "{msg}");
        assert!(msg.contains("mongodb:127.0.0.1:1/imapi"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    /// Exercises the adapter against a real server when `SHIKU_TEST_MONGODB_URI` is set (none
    /// can be installed on the CI machine); uses and then drops a throw-away database.
    #[tokio::test]
    async fn live_round_trip() {
        let Ok(uri) = std::env::var("SHIKU_TEST_MONGODB_URI") else {
            eprintln!("skipped: SHIKU_TEST_MONGODB_URI is not set");
            return;
        };
        let db = format!("shiku_test_{}", uuid::Uuid::new_v4().simple());
        let cfg = MongoConfig {
            uri,
            api_db: db.clone(),
            ..MongoConfig::default()
        };
        let store = MongoStore::connect(&cfg).await.unwrap();
        assert!(store.description().ends_with(&format!("/{db}")));

        let first = store.next_user_id(100100).await.unwrap();
        assert_eq!(first, 100100);
        assert_eq!(store.next_user_id(100100).await.unwrap(), 100101);

        let mut user: User = decode(USER, seed_user()).unwrap();
        user.user_id = first;
        store.insert_user(&user).await.unwrap();
        let again = store.insert_user(&user).await.unwrap_err();
        assert!(matches!(again, StoreError::Duplicate(_)), "{again:?}");
        user.user_id = first + 1;
        let same_phone = store.insert_user(&user).await.unwrap_err();
        assert!(
            matches!(same_phone, StoreError::Duplicate(_)),
            "{same_phone:?}"
        );

        let got = store.get_user(first).await.unwrap().unwrap();
        assert_eq!(got.telephone, "8618094152050");
        let login = store
            .find_for_login("aee198505eda1e401e36f36e2c0f4ab5", Some("86"))
            .await
            .unwrap();
        assert_eq!(login.map(|u| u.user_id), Some(first));
        assert!(store.account_taken("18094152050", 1).await.unwrap());
        assert!(!store.account_taken("18094152050", first).await.unwrap());

        let patch = Patch::new()
            .set("nickname", "a.b")
            .inc("friendsCount", 2)
            .unset("payPassword");
        let updated = store.update_user(first, &patch).await.unwrap().unwrap();
        assert_eq!(
            (updated.nickname.as_str(), updated.friends_count),
            ("a.b", 2)
        );
        assert_eq!(updated.pay_password, None);
        let q = UserQuery {
            nickname: Some("A.B".into()),
            min_user_id: 100000,
            limit: 10,
            ..UserQuery::default()
        };
        assert_eq!(store.query_users(&q).await.unwrap().len(), 1);
        let q = UserQuery {
            nickname: Some("a*".into()),
            ..q
        };
        assert!(store.query_users(&q).await.unwrap().is_empty());

        let friend: Friend = decode(
            FRIENDS,
            doc! { "userId": first, "toUserId": 10000, "status": 2, "toNickname": "x" },
        )
        .unwrap();
        store.put_friend(&friend).await.unwrap();
        store.put_friend(&friend).await.unwrap();
        assert_eq!(store.count_friends(first, Some(2)).await.unwrap(), 1);
        store
            .update_friends_to(10000, &Patch::new().set("toNickname", "y"))
            .await
            .unwrap();
        let f = store.get_friend(first, 10000).await.unwrap().unwrap();
        assert_eq!(f.to_nickname, "y");

        store
            .update_login_log(first, &Patch::new().set("loginLog.loginTime", 5_i64))
            .await
            .unwrap();
        let log = store.get_login_log(first).await.unwrap().unwrap();
        assert_eq!(log.login_log.login_time, 5);

        assert_eq!(store.get_meta("k").await.unwrap(), None);
        assert_eq!(store.init_meta("k", "v1").await.unwrap(), "v1");
        assert_eq!(store.init_meta("k", "v2").await.unwrap(), "v1");
        assert_eq!(store.token_version(first).await.unwrap(), 0);
        assert_eq!(store.bump_token_version(first).await.unwrap(), 1);
        assert_eq!(store.token_version(first).await.unwrap(), 1);

        store.db.drop().await.unwrap();
    }
}
