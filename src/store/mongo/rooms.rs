//! `RoomStore` on the reference's room database (`imRoom`, spec/reference-server.md 4.6 and
//! 5.3): `shiku_room`, `shiku_room_member`, `shiku_room_notice`, `shiku_room_share`,
//! `shiku_roomJids_userId`, one `mucmsg_<jid>` collection per room, and the hide list
//! `room_group_msg` in the API database (seed 002).
//!
//! Ids are ObjectIds in the database and 24-hex strings in our types; a string that is not
//! one matches nothing (never a driver error). Memberships reference their room by an ObjectId
//! `roomId`, as Morphia wrote them.
//!
//! Without multi-document transactions (a standalone server has none), `add_members` and
//! `remove_member` keep `userSize` exact by counting only the writes that took effect: each
//! membership is an upsert on the unique `(roomId, userId)` key, and `userSize` is `$inc`ed by
//! the number of upserts that inserted (or -1 when a delete removed one).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};
use mongodb::bson::oid::ObjectId;
use tokio::sync::OnceCell;

use super::messages::id_forms;
use super::*;
use crate::documents::{BodyOnce, Member, MucRow, Notice, Room, Share};
use crate::store::{MemberQuery, MucQuery, RoomQuery, RoomStore, Shared};

const ROOMS: &str = "shiku_room";
const MEMBERS: &str = "shiku_room_member";
const NOTICES: &str = "shiku_room_notice";
const SHARES: &str = "shiku_room_share";
const ROOM_JIDS: &str = "shiku_roomJids_userId";
/// The per-user hide list of group messages (API database).
const HIDDEN: &str = "room_group_msg";
/// Prefix of a room's message collection.
const MUC_PREFIX: &str = "mucmsg_";

/// Writes in flight at once when one call makes many (members of a large room).
const PARALLEL_WRITES: usize = 16;

/// MongoDB's limit on `<db>.<collection>` (bytes).
const MAX_NAMESPACE: usize = 255;

/// The room database and which `mucmsg_<jid>` collections this process has prepared.
pub(super) struct RoomDbs {
    pub(super) db: Database,
    /// Rooms' message collections whose indexes were created by this process; callers of the
    /// first use wait for the creation, later ones skip it.
    muc_prepared: Mutex<HashMap<String, Arc<OnceCell<()>>>>,
}

impl RoomDbs {
    /// The room database of `cfg` (`imRoom`).
    pub(super) fn new(client: &Client, cfg: &MongoConfig) -> RoomDbs {
        RoomDbs {
            db: client.database(&cfg.room_db),
            muc_prepared: Mutex::new(HashMap::new()),
        }
    }
}

/// The ObjectId a hex id names; None for anything else.
pub fn parse_oid(hex: &str) -> Option<ObjectId> {
    ObjectId::parse_str(hex).ok()
}

/// The message collection of a room (`mucmsg_<jid>`), or None when the jid cannot name one
/// (empty, `$`, NUL, or too long for `db_name`).
pub fn muc_collection(db_name: &str, jid: &str) -> Option<String> {
    let name = format!("{MUC_PREFIX}{jid}");
    let ok = !jid.is_empty()
        && !jid.contains(['$', '\0'])
        && db_name.len() + 1 + name.len() <= MAX_NAMESPACE;
    ok.then_some(name)
}

/// Members of one room matching a member filter (paging aside).
pub fn member_filter(room: ObjectId, q: &MemberQuery) -> Document {
    let mut filter = doc! { "roomId": room };
    if !q.roles.is_empty() {
        filter.insert("role", doc! { "$in": q.roles.clone() });
    }
    if let Some(k) = q.keyword.as_deref().filter(|k| !k.is_empty()) {
        let re = doc! { "$regex": escape_regex(k), "$options": "i" };
        filter.insert(
            "$or",
            vec![doc! { "nickname": re.clone() }, doc! { "remarkName": re }],
        );
    }
    filter
}

/// Member filter order: role, then join time, then `_id` (insertion order) for ties.
fn member_order() -> Document {
    doc! { "role": 1, "createTime": 1, "_id": 1 }
}

/// Rooms matching a room filter; `member_rooms` is the rooms of `q.member` when set.
pub fn room_filter(q: &RoomQuery, member_rooms: Option<Vec<ObjectId>>) -> Document {
    let mut filter = Document::new();
    if let Some(ids) = member_rooms {
        filter.insert("_id", doc! { "$in": ids });
    }
    if q.public_only {
        filter.insert("isLook", 0);
    }
    if let Some(s) = q.status {
        filter.insert("s", s);
    }
    if let Some(k) = q.keyword.as_deref().filter(|k| !k.is_empty()) {
        let re = doc! { "$regex": escape_regex(k), "$options": "i" };
        filter.insert(
            "$or",
            vec![doc! { "name": re.clone() }, doc! { "desc": re }],
        );
    }
    filter
}

/// The memberships whose rooms `room_filter` restricts to (a user, optionally by role).
pub fn member_rooms_filter(user_id: i32, roles: &[i32]) -> Document {
    let mut filter = doc! { "userId": user_id };
    if !roles.is_empty() {
        filter.insert("role", doc! { "$in": roles.to_vec() });
    }
    filter
}

/// Group history filter within one room's collection.
pub fn muc_filter(q: &MucQuery) -> Document {
    let mut filter = Document::new();
    let mut ts = Document::new();
    if let Some(start) = q.start_ms {
        ts.insert("$gte", start);
    }
    if let Some(end) = q.end_ms {
        ts.insert("$lte", end);
    }
    if !ts.is_empty() {
        filter.insert("ts", ts);
    }
    if let Some(max) = q.max_type {
        filter.insert("contentType", doc! { "$lt": max });
    }
    if !q.hidden.is_empty() {
        filter.insert("messageId", doc! { "$nin": q.hidden.clone() });
    }
    filter
}

/// Messages to delete: these ids, optionally only one sender's. Legacy rows hold `sender` as
/// a number, seed-002 rows as a string: both match.
pub fn muc_delete_filter(message_ids: &[String], sender: Option<i32>) -> Document {
    let mut filter = doc! { "messageId": { "$in": message_ids.to_vec() } };
    if let Some(s) = sender {
        filter.insert("sender", id_forms(i64::from(s)));
    }
    filter
}

/// Messages whose `content` contains `needle` literally (case-sensitive, as SQLite's instr).
pub fn muc_search_filter(needle: &str) -> Document {
    doc! { "content": { "$regex": escape_regex(needle) } }
}

/// Newest first; `_id` (an ObjectId, so insertion order) breaks ties.
fn newest_first() -> Document {
    doc! { "ts": -1, "_id": -1 }
}

/// Replaces an ObjectId at a dotted path by its hex string (our types hold ids as strings).
fn hexify(d: &mut Document, path: &str) {
    match path.split_once('.') {
        None => {
            if let Some(Bson::ObjectId(oid)) = d.get(path) {
                let hex = oid.to_hex();
                d.insert(path, hex);
            }
        }
        Some((head, rest)) => {
            if let Ok(sub) = d.get_document_mut(head) {
                hexify(sub, rest);
            }
        }
    }
}

/// Replaces a hex string at `key` by the ObjectId it names (the Java entities' type).
fn oidify(d: &mut Document, key: &str) {
    if let Some(Bson::String(s)) = d.get(key) {
        if let Some(oid) = parse_oid(s) {
            d.insert(key, oid);
        }
    }
}

/// The embedded notice of a room with ObjectId ids, as `Room.java` stores it.
fn oidify_notice(room: &mut Document) {
    if let Ok(notice) = room.get_document_mut("notice") {
        oidify(notice, "_id");
        oidify(notice, "roomId");
    }
}

/// A new document: `_id` first, then the encoded value without its own `_id`.
fn with_id(id: ObjectId, mut body: Document) -> Document {
    body.remove("_id");
    let mut d = doc! { "_id": id };
    d.extend(body);
    d
}

/// A room as inserted.
pub fn room_insert_doc(id: ObjectId, room: &Room) -> StoreResult<Document> {
    let mut d = with_id(id, encode(ROOMS, room)?);
    oidify_notice(&mut d);
    Ok(d)
}

/// The `$setOnInsert` body of a membership upsert: everything but the filter keys (`roomId`,
/// `userId`), which the upsert copies from the filter, plus a client-made `_id` so that `_id`
/// order is the order of the caller's list.
pub fn member_insert_body(id: ObjectId, m: &Member) -> StoreResult<Document> {
    let mut d = with_id(id, encode(MEMBERS, m)?);
    d.remove("roomId");
    d.remove("userId");
    Ok(d)
}

/// A room-owned document (notice, share) as inserted: `_id` and `roomId` as ObjectIds.
fn owned_insert_doc<T: Serialize>(
    collection: &str,
    id: ObjectId,
    value: &T,
) -> StoreResult<Document> {
    let mut d = with_id(id, encode(collection, value)?);
    oidify(&mut d, "roomId");
    Ok(d)
}

fn decode_room(mut d: Document) -> StoreResult<Room> {
    hexify(&mut d, "_id");
    hexify(&mut d, "notice._id");
    hexify(&mut d, "notice.roomId");
    decode(ROOMS, d)
}

fn decode_member(mut d: Document) -> StoreResult<Member> {
    // `_id` is not part of a membership (Morphia does not serialise it); leaving it would put
    // it in `extra`.
    d.remove("_id");
    hexify(&mut d, "roomId");
    decode(MEMBERS, d)
}

fn decode_owned<T: DeserializeOwned>(collection: &str, mut d: Document) -> StoreResult<T> {
    hexify(&mut d, "_id");
    hexify(&mut d, "roomId");
    decode(collection, d)
}

/// A stored room message as clients read it ([`BodyOnce`]).
fn decode_muc(collection: &str, mut d: Document) -> StoreResult<MucRow> {
    hexify(&mut d, "_id");
    decode::<MucRow>(collection, d).map(BodyOnce::read_back)
}

/// A patch for a room document, with an embedded notice's ids as ObjectIds.
fn room_update(patch: &Patch) -> Document {
    let mut update = patch_to_update(patch);
    if let Ok(set) = update.get_document_mut("$set") {
        oidify_notice(set);
    }
    update
}

/// Appends the jids of one `shiku_roomJids_userId` document to `out`, skipping repeats.
fn collect_jids(d: &Document, seen: &mut HashSet<String>, out: &mut Vec<String>) {
    if let Ok(jids) = d.get_array("jids") {
        for j in jids {
            if let Bson::String(s) = j {
                if seen.insert(s.clone()) {
                    out.push(s.clone());
                }
            }
        }
    }
}

fn is_duplicate(e: &mongodb::error::Error) -> bool {
    error_code(e) == Some(DUPLICATE_KEY)
}

/// Creates a unique index on `keys`, or (when existing data or an existing index forbids it)
/// the plain one; false when there is no unique index.
async fn unique_or_plain(coll: &Collection<Document>, keys: Document) -> bool {
    let unique = IndexOptions::builder().unique(true).build();
    if ensure_index_on(coll, keys.clone(), Some(unique)).await {
        return true;
    }
    tracing::warn!(
        collection = %coll.namespace(),
        keys = %keys,
        "no unique index: duplicates are only prevented by upserts"
    );
    ensure_index_on(coll, keys, None).await;
    false
}

/// The indexes of one room's message collection (reference 4.6's recommendation, plus `ts`).
async fn create_muc_indexes(coll: &Collection<Document>) {
    ensure_index_on(coll, doc! { "timeSend": 1 }, None).await;
    unique_or_plain(coll, doc! { "messageId": 1 }).await;
    ensure_index_on(coll, doc! { "ts": 1 }, None).await;
}

async fn collect(cursor: mongodb::Cursor<Document>) -> StoreResult<Vec<Document>> {
    cursor.try_collect().await.map_err(backend)
}

impl MongoStore {
    fn room_coll(&self, name: &str) -> Collection<Document> {
        self.rooms.db.collection(name)
    }

    /// Creates the room database's indexes (reference 4.6, plus what we query by). Failures
    /// only warn.
    pub(super) async fn create_room_indexes(&self) {
        let rooms = self.room_coll(ROOMS);
        ensure_index_on(&rooms, doc! { "userId": 1 }, None).await;
        if !unique_or_plain(&rooms, doc! { "jid": 1 }).await {
            tracing::warn!("no unique index on shiku_room.jid: checked before insert only");
        }
        ensure_index_on(&rooms, doc! { "userId": 1, "jid": 1 }, None).await;
        let members = self.room_coll(MEMBERS);
        for keys in [
            doc! { "roomId": 1 },
            doc! { "userId": 1 },
            doc! { "userId": 1, "role": 1 },
            doc! { "roomId": 1, "role": 1, "createTime": 1 },
        ] {
            ensure_index_on(&members, keys, None).await;
        }
        unique_or_plain(&members, doc! { "roomId": 1, "userId": 1 }).await;
        ensure_index_on(&self.room_coll(NOTICES), doc! { "roomId": 1 }, None).await;
        let shares = self.room_coll(SHARES);
        ensure_index_on(&shares, doc! { "roomId": 1 }, None).await;
        ensure_index_on(&shares, doc! { "userId": 1 }, None).await;
        let jids = self.room_coll(ROOM_JIDS);
        unique_or_plain(&jids, doc! { "userId": 1 }).await;
        ensure_index_on(&jids, doc! { "jids": 1 }, None).await;
        let hidden = self.coll(HIDDEN);
        unique_or_plain(&hidden, doc! { "userId": 1, "jid": 1, "messageId": 1 }).await;
        ensure_index_on(&hidden, doc! { "jid": 1 }, None).await;
    }

    /// A room's message collection, its indexes created on first use; None when the jid
    /// cannot name a collection.
    async fn muc(&self, jid: &str) -> Option<Collection<Document>> {
        let name = muc_collection(self.rooms.db.name(), jid)?;
        let coll = self.room_coll(&name);
        let cell = {
            let mut prepared = self
                .rooms
                .muc_prepared
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            prepared.entry(name).or_default().clone()
        };
        cell.get_or_init(|| create_muc_indexes(&coll)).await;
        Some(coll)
    }

    /// A room's message collection for reading (no index creation); None as for [`Self::muc`].
    fn muc_read(&self, jid: &str) -> Option<Collection<Document>> {
        muc_collection(self.rooms.db.name(), jid).map(|n| self.room_coll(&n))
    }

    async fn find_docs(
        &self,
        coll: &Collection<Document>,
        filter: Document,
        sort: Document,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Document>> {
        let mut find = coll.find(filter).sort(sort);
        if skip > 0 {
            find = find.skip(skip);
        }
        if limit > 0 {
            find = find.limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        collect(find.await.map_err(backend)?).await
    }

    /// The jid of a room, None when there is no such room.
    async fn room_jid(&self, room: ObjectId) -> StoreResult<Option<String>> {
        let found = self
            .room_coll(ROOMS)
            .find_one(doc! { "_id": room })
            .projection(doc! { "jid": 1 })
            .await
            .map_err(backend)?;
        Ok(found.map(|d| d.get_str("jid").unwrap_or_default().to_string()))
    }

    /// Adds `jid` to a user's room-jid index (creating it), retrying the upsert once when a
    /// concurrent one inserted the user's document first.
    async fn add_room_jid(&self, user_id: i32, jid: &str) -> StoreResult<()> {
        let coll = self.room_coll(ROOM_JIDS);
        for attempt in 0..2 {
            match coll
                .update_one(
                    doc! { "userId": user_id },
                    doc! { "$addToSet": { "jids": jid } },
                )
                .upsert(true)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_duplicate(&e) && attempt == 0 => continue,
                Err(e) => return Err(backend(e)),
            }
        }
        unreachable!("the loop returns")
    }

    /// Inserts one membership unless it exists; true when this call inserted it.
    async fn upsert_member(&self, room: ObjectId, id: ObjectId, m: &Member) -> StoreResult<bool> {
        let body = member_insert_body(id, m)?;
        let result = self
            .room_coll(MEMBERS)
            .update_one(
                doc! { "roomId": room, "userId": m.user_id },
                doc! { "$setOnInsert": body },
            )
            .upsert(true)
            .await;
        match result {
            Ok(r) => Ok(r.upserted_id.is_some()),
            // A concurrent insert of the same membership won: not ours to count.
            Err(e) if is_duplicate(&e) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }
}

#[async_trait]
impl RoomStore for MongoStore {
    async fn insert_room(&self, room: &Room) -> StoreResult<String> {
        let rooms = self.room_coll(ROOMS);
        // The unique index catches races; this check covers a deployment without it.
        if rooms
            .find_one(doc! { "jid": &room.jid })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .is_some()
        {
            return Err(StoreError::Duplicate(format!("room jid {}", room.jid)));
        }
        // A given ObjectId-shaped id is kept (imported rooms: their notifications name it); a
        // clash with an existing `_id` is a duplicate-key error, mapped below.
        // ObjectId::default() is a fresh id.
        let id = room.id.as_deref().and_then(parse_oid).unwrap_or_default();
        rooms
            .insert_one(room_insert_doc(id, room)?)
            .await
            .map_err(write_error)?;
        Ok(id.to_hex())
    }

    async fn get_room(&self, room_id: &str) -> StoreResult<Option<Room>> {
        let Some(id) = parse_oid(room_id) else {
            return Ok(None);
        };
        let found = self
            .room_coll(ROOMS)
            .find_one(doc! { "_id": id })
            .await
            .map_err(backend)?;
        found.map(decode_room).transpose()
    }

    async fn get_room_by_jid(&self, jid: &str) -> StoreResult<Option<Room>> {
        let found = self
            .room_coll(ROOMS)
            .find_one(doc! { "jid": jid })
            .await
            .map_err(backend)?;
        found.map(decode_room).transpose()
    }

    async fn update_room(&self, room_id: &str, patch: &Patch) -> StoreResult<Option<Room>> {
        let Some(id) = parse_oid(room_id) else {
            return Ok(None);
        };
        if patch.is_empty() {
            return self.get_room(room_id).await;
        }
        let updated = self
            .room_coll(ROOMS)
            .find_one_and_update(doc! { "_id": id }, room_update(patch))
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        updated.map(decode_room).transpose()
    }

    async fn query_rooms(&self, q: &RoomQuery) -> StoreResult<Vec<Room>> {
        let member_rooms = match q.member {
            None => None,
            Some(user) => {
                let found = self
                    .room_coll(MEMBERS)
                    .find(member_rooms_filter(user, &q.roles))
                    .projection(doc! { "roomId": 1 })
                    .await
                    .map_err(backend)?;
                let ids: Vec<ObjectId> = collect(found)
                    .await?
                    .into_iter()
                    .filter_map(|d| match d.get("roomId") {
                        Some(Bson::ObjectId(oid)) => Some(*oid),
                        Some(Bson::String(s)) => parse_oid(s),
                        _ => None,
                    })
                    .collect();
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                Some(ids)
            }
        };
        let docs = self
            .find_docs(
                &self.room_coll(ROOMS),
                room_filter(q, member_rooms),
                doc! { "_id": -1 },
                q.skip,
                q.limit,
            )
            .await?;
        docs.into_iter().map(decode_room).collect()
    }

    async fn delete_room(&self, room_id: &str) -> StoreResult<bool> {
        let Some(id) = parse_oid(room_id) else {
            return Ok(false);
        };
        let Some(jid) = self.room_jid(id).await? else {
            return Ok(false);
        };
        // The room document goes last: if a step fails, a retry still finds the room.
        for name in [MEMBERS, NOTICES, SHARES] {
            self.room_coll(name)
                .delete_many(doc! { "roomId": id })
                .await
                .map_err(backend)?;
        }
        self.room_coll(ROOM_JIDS)
            .update_many(doc! { "jids": &jid }, doc! { "$pull": { "jids": &jid } })
            .await
            .map_err(backend)?;
        self.coll(HIDDEN)
            .delete_many(doc! { "jid": &jid })
            .await
            .map_err(backend)?;
        if let Some(name) = muc_collection(self.rooms.db.name(), &jid) {
            self.room_coll(&name).drop().await.map_err(backend)?;
            // A room created again with this jid gets its indexes again.
            self.rooms
                .muc_prepared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&name);
        }
        let deleted = self
            .room_coll(ROOMS)
            .delete_one(doc! { "_id": id })
            .await
            .map_err(backend)?;
        Ok(deleted.deleted_count > 0)
    }

    async fn add_members(&self, room_id: &str, members: &[Member]) -> StoreResult<Vec<i32>> {
        let Some(room) = parse_oid(room_id) else {
            return Ok(Vec::new());
        };
        let Some(jid) = self.room_jid(room).await? else {
            return Ok(Vec::new());
        };
        // `_id`s made here, in list order, so that `_id` order is the caller's order even though
        // the upserts run in parallel.
        let ids: Vec<ObjectId> = members.iter().map(|_| ObjectId::new()).collect();
        // Futures made up front: a closure inside the stream trips async-trait's lifetimes.
        let upserts: Vec<_> = members
            .iter()
            .zip(ids)
            .map(|(m, id)| self.upsert_member(room, id, m))
            .collect();
        let inserted: Vec<StoreResult<bool>> = stream::iter(upserts)
            .buffered(PARALLEL_WRITES)
            .collect()
            .await;
        let mut added = Vec::new();
        for (m, r) in members.iter().zip(inserted) {
            if r? {
                added.push(m.user_id);
            }
        }
        if added.is_empty() {
            return Ok(added);
        }
        let n = i32::try_from(added.len()).unwrap_or(i32::MAX);
        self.room_coll(ROOMS)
            .update_one(doc! { "_id": room }, doc! { "$inc": { "userSize": n } })
            .await
            .map_err(backend)?;
        let adds: Vec<_> = added.iter().map(|u| self.add_room_jid(*u, &jid)).collect();
        let indexed: Vec<StoreResult<()>> = stream::iter(adds)
            .buffer_unordered(PARALLEL_WRITES)
            .collect()
            .await;
        indexed.into_iter().collect::<StoreResult<()>>()?;
        Ok(added)
    }

    async fn get_member(&self, room_id: &str, user_id: i32) -> StoreResult<Option<Member>> {
        let Some(room) = parse_oid(room_id) else {
            return Ok(None);
        };
        let found = self
            .room_coll(MEMBERS)
            .find_one(doc! { "roomId": room, "userId": user_id })
            .await
            .map_err(backend)?;
        found.map(decode_member).transpose()
    }

    async fn update_member(
        &self,
        room_id: &str,
        user_id: i32,
        patch: &Patch,
    ) -> StoreResult<Option<Member>> {
        let Some(room) = parse_oid(room_id) else {
            return Ok(None);
        };
        if patch.is_empty() {
            return self.get_member(room_id, user_id).await;
        }
        let updated = self
            .room_coll(MEMBERS)
            .find_one_and_update(
                doc! { "roomId": room, "userId": user_id },
                patch_to_update(patch),
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        updated.map(decode_member).transpose()
    }

    async fn update_all_members(&self, room_id: &str, patch: &Patch) -> StoreResult<()> {
        let Some(room) = parse_oid(room_id) else {
            return Ok(());
        };
        if patch.is_empty() {
            return Ok(());
        }
        self.room_coll(MEMBERS)
            .update_many(doc! { "roomId": room }, patch_to_update(patch))
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn remove_member(&self, room_id: &str, user_id: i32) -> StoreResult<bool> {
        let Some(room) = parse_oid(room_id) else {
            return Ok(false);
        };
        let deleted = self
            .room_coll(MEMBERS)
            .delete_one(doc! { "roomId": room, "userId": user_id })
            .await
            .map_err(backend)?;
        if deleted.deleted_count == 0 {
            return Ok(false);
        }
        self.room_coll(ROOMS)
            .update_one(doc! { "_id": room }, doc! { "$inc": { "userSize": -1 } })
            .await
            .map_err(backend)?;
        if let Some(jid) = self.room_jid(room).await? {
            self.room_coll(ROOM_JIDS)
                .update_many(
                    doc! { "userId": id_forms(i64::from(user_id)) },
                    doc! { "$pull": { "jids": jid } },
                )
                .await
                .map_err(backend)?;
        }
        Ok(true)
    }

    async fn query_members(&self, q: &MemberQuery) -> StoreResult<Vec<Member>> {
        let Some(room) = parse_oid(&q.room_id) else {
            return Ok(Vec::new());
        };
        let docs = self
            .find_docs(
                &self.room_coll(MEMBERS),
                member_filter(room, q),
                member_order(),
                q.skip,
                q.limit,
            )
            .await?;
        docs.into_iter().map(decode_member).collect()
    }

    async fn count_members(&self, q: &MemberQuery) -> StoreResult<u64> {
        let Some(room) = parse_oid(&q.room_id) else {
            return Ok(0);
        };
        self.room_coll(MEMBERS)
            .count_documents(member_filter(room, q))
            .await
            .map_err(backend)
    }

    async fn member_ids(&self, room_id: &str) -> StoreResult<Vec<i32>> {
        let Some(room) = parse_oid(room_id) else {
            return Ok(Vec::new());
        };
        let found = self
            .room_coll(MEMBERS)
            .find(doc! { "roomId": room })
            .projection(doc! { "userId": 1 })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        Ok(collect(found)
            .await?
            .iter()
            .filter_map(|d| d.get("userId").and_then(bson_to_i64))
            .filter_map(|u| i32::try_from(u).ok())
            .collect())
    }

    async fn room_jids_of(&self, user_id: i32) -> StoreResult<Vec<String>> {
        let found = self
            .room_coll(ROOM_JIDS)
            .find(doc! { "userId": id_forms(i64::from(user_id)) })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        let (mut seen, mut out) = (HashSet::new(), Vec::new());
        for d in collect(found).await? {
            collect_jids(&d, &mut seen, &mut out);
        }
        Ok(out)
    }

    async fn insert_notice(&self, notice: &Notice) -> StoreResult<String> {
        if notice.room_id.is_none() {
            return Err(StoreError::Backend("a notice needs its roomId".into()));
        }
        let id = ObjectId::new();
        self.room_coll(NOTICES)
            .insert_one(owned_insert_doc(NOTICES, id, notice)?)
            .await
            .map_err(write_error)?;
        Ok(id.to_hex())
    }

    async fn get_notice(&self, room_id: &str, notice_id: &str) -> StoreResult<Option<Notice>> {
        let (Some(room), Some(id)) = (parse_oid(room_id), parse_oid(notice_id)) else {
            return Ok(None);
        };
        let found = self
            .room_coll(NOTICES)
            .find_one(doc! { "_id": id, "roomId": room })
            .await
            .map_err(backend)?;
        found.map(|d| decode_owned(NOTICES, d)).transpose()
    }

    async fn update_notice(
        &self,
        room_id: &str,
        notice_id: &str,
        patch: &Patch,
    ) -> StoreResult<Option<Notice>> {
        let (Some(room), Some(id)) = (parse_oid(room_id), parse_oid(notice_id)) else {
            return Ok(None);
        };
        if patch.is_empty() {
            return self.get_notice(room_id, notice_id).await;
        }
        let updated = self
            .room_coll(NOTICES)
            .find_one_and_update(doc! { "_id": id, "roomId": room }, patch_to_update(patch))
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        updated.map(|d| decode_owned(NOTICES, d)).transpose()
    }

    async fn delete_notice(&self, room_id: &str, notice_id: &str) -> StoreResult<bool> {
        let (Some(room), Some(id)) = (parse_oid(room_id), parse_oid(notice_id)) else {
            return Ok(false);
        };
        let deleted = self
            .room_coll(NOTICES)
            .delete_one(doc! { "_id": id, "roomId": room })
            .await
            .map_err(backend)?;
        Ok(deleted.deleted_count > 0)
    }

    async fn notices(&self, room_id: &str, skip: u64, limit: u64) -> StoreResult<Vec<Notice>> {
        let Some(room) = parse_oid(room_id) else {
            return Ok(Vec::new());
        };
        let docs = self
            .find_docs(
                &self.room_coll(NOTICES),
                doc! { "roomId": room },
                doc! { "time": -1, "_id": -1 },
                skip,
                limit,
            )
            .await?;
        docs.into_iter().map(|d| decode_owned(NOTICES, d)).collect()
    }

    async fn count_notices(&self, room_id: &str) -> StoreResult<u64> {
        let Some(room) = parse_oid(room_id) else {
            return Ok(0);
        };
        self.room_coll(NOTICES)
            .count_documents(doc! { "roomId": room })
            .await
            .map_err(backend)
    }

    async fn insert_share(&self, share: &Share) -> StoreResult<String> {
        if share.room_id.is_none() {
            return Err(StoreError::Backend("a share needs its roomId".into()));
        }
        let id = ObjectId::new();
        self.room_coll(SHARES)
            .insert_one(owned_insert_doc(SHARES, id, share)?)
            .await
            .map_err(write_error)?;
        Ok(id.to_hex())
    }

    async fn get_share(&self, room_id: &str, share_id: &str) -> StoreResult<Option<Share>> {
        let (Some(room), Some(id)) = (parse_oid(room_id), parse_oid(share_id)) else {
            return Ok(None);
        };
        let found = self
            .room_coll(SHARES)
            .find_one(doc! { "_id": id, "roomId": room })
            .await
            .map_err(backend)?;
        found.map(|d| decode_owned(SHARES, d)).transpose()
    }

    async fn delete_share(&self, room_id: &str, share_id: &str) -> StoreResult<bool> {
        let (Some(room), Some(id)) = (parse_oid(room_id), parse_oid(share_id)) else {
            return Ok(false);
        };
        let deleted = self
            .room_coll(SHARES)
            .delete_one(doc! { "_id": id, "roomId": room })
            .await
            .map_err(backend)?;
        Ok(deleted.deleted_count > 0)
    }

    async fn shares(
        &self,
        room_id: &str,
        user_id: Option<i32>,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<Share>> {
        let Some(room) = parse_oid(room_id) else {
            return Ok(Vec::new());
        };
        let mut filter = doc! { "roomId": room };
        if let Some(u) = user_id {
            filter.insert("userId", u);
        }
        let docs = self
            .find_docs(
                &self.room_coll(SHARES),
                filter,
                doc! { "time": -1, "_id": -1 },
                skip,
                limit,
            )
            .await?;
        docs.into_iter().map(|d| decode_owned(SHARES, d)).collect()
    }

    async fn store_muc(&self, jid: &str, row: &MucRow) -> StoreResult<bool> {
        let Some(coll) = self.muc(jid).await else {
            return Err(StoreError::Backend(format!(
                "room jid {jid:?} cannot name a message collection"
            )));
        };
        let id = row
            .id
            .as_deref()
            .and_then(parse_oid)
            // `ObjectId::default()` is a fresh id.
            .unwrap_or_default();
        let mut body = with_id(id, encode(MUC_PREFIX, &row.stored())?);
        // The upsert copies `messageId` from its filter.
        body.remove("messageId");
        let result = coll
            .update_one(
                doc! { "messageId": &row.message_id },
                doc! { "$setOnInsert": body },
            )
            .upsert(true)
            .await;
        match result {
            Ok(r) => Ok(r.upserted_id.is_some()),
            Err(e) if is_duplicate(&e) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    async fn muc_history(&self, q: &MucQuery) -> StoreResult<Vec<Arc<Shared<MucRow>>>> {
        let Some(coll) = self.muc_read(&q.jid) else {
            return Ok(Vec::new());
        };
        let docs = self
            .find_docs(&coll, muc_filter(q), newest_first(), q.skip, q.limit)
            .await?;
        let name = coll.name().to_string();
        docs.into_iter()
            .map(|d| decode_muc(&name, d).map(Shared::new))
            .collect()
    }

    async fn find_muc(&self, jid: &str, message_id: &str) -> StoreResult<Option<MucRow>> {
        let Some(coll) = self.muc_read(jid) else {
            return Ok(None);
        };
        let found = coll
            .find_one(doc! { "messageId": message_id })
            .await
            .map_err(backend)?;
        found.map(|d| decode_muc(coll.name(), d)).transpose()
    }

    async fn delete_muc(
        &self,
        jid: &str,
        message_ids: &[String],
        sender: Option<i32>,
    ) -> StoreResult<u64> {
        let Some(coll) = self.muc_read(jid) else {
            return Ok(0);
        };
        if message_ids.is_empty() {
            return Ok(0);
        }
        let deleted = coll
            .delete_many(muc_delete_filter(message_ids, sender))
            .await
            .map_err(backend)?;
        Ok(deleted.deleted_count)
    }

    async fn newest_muc(&self, jid: &str) -> StoreResult<Option<MucRow>> {
        let Some(coll) = self.muc_read(jid) else {
            return Ok(None);
        };
        let found = coll
            .find_one(doc! {})
            .sort(newest_first())
            .await
            .map_err(backend)?;
        found.map(|d| decode_muc(coll.name(), d)).transpose()
    }

    async fn search_muc(
        &self,
        jids: &[String],
        needle: &str,
        limit: u64,
    ) -> StoreResult<Vec<MucRow>> {
        let mut out: Vec<MucRow> = Vec::new();
        for jid in jids {
            let Some(coll) = self.muc_read(jid) else {
                continue;
            };
            let docs = self
                .find_docs(&coll, muc_search_filter(needle), newest_first(), 0, limit)
                .await?;
            for d in docs {
                out.push(decode_muc(coll.name(), d)?);
            }
        }
        // Across rooms as within one: `ts`, then `_id` (hex order is ObjectId order).
        out.sort_by(|a, b| b.ts.cmp(&a.ts).then_with(|| b.id.cmp(&a.id)));
        if limit > 0 {
            out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(out)
    }

    async fn hide_muc(&self, user_id: i32, jid: &str, message_ids: &[String]) -> StoreResult<()> {
        let coll = self.coll(HIDDEN);
        for id in message_ids {
            // Sequential and with a client-made `_id`, so `_id` order is the order hidden.
            let result = coll
                .update_one(
                    doc! { "userId": user_id, "jid": jid, "messageId": id },
                    doc! { "$setOnInsert": { "_id": ObjectId::new() } },
                )
                .upsert(true)
                .await;
            match result {
                Ok(_) => {}
                Err(e) if is_duplicate(&e) => {}
                Err(e) => return Err(backend(e)),
            }
        }
        Ok(())
    }

    async fn hidden_muc(&self, user_id: i32, jid: &str) -> StoreResult<Vec<String>> {
        let found = self
            .coll(HIDDEN)
            .find(doc! { "userId": id_forms(i64::from(user_id)), "jid": jid })
            .projection(doc! { "messageId": 1 })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        let mut seen = HashSet::new();
        Ok(collect(found)
            .await?
            .iter()
            .filter_map(|d| d.get_str("messageId").ok())
            .filter(|m| seen.insert(m.to_string()))
            .map(str::to_string)
            .collect())
    }

    async fn hidden_among(
        &self,
        user_id: i32,
        messages: &[(String, String)],
    ) -> StoreResult<HashSet<(String, String)>> {
        if messages.is_empty() {
            return Ok(HashSet::new());
        }
        let jids: HashSet<&str> = messages.iter().map(|(j, _)| j.as_str()).collect();
        let ids: HashSet<&str> = messages.iter().map(|(_, m)| m.as_str()).collect();
        let found = self
            .coll(HIDDEN)
            .find(doc! {
                "userId": id_forms(i64::from(user_id)),
                "jid": { "$in": jids.into_iter().collect::<Vec<_>>() },
                "messageId": { "$in": ids.into_iter().collect::<Vec<_>>() },
            })
            .projection(doc! { "jid": 1, "messageId": 1 })
            .await
            .map_err(backend)?;
        let wanted: HashSet<(&str, &str)> = messages
            .iter()
            .map(|(j, m)| (j.as_str(), m.as_str()))
            .collect();
        Ok(collect(found)
            .await?
            .iter()
            .filter_map(|d| Some((d.get_str("jid").ok()?, d.get_str("messageId").ok()?)))
            .filter(|pair| wanted.contains(pair))
            .map(|(j, m)| (j.to_string(), m.to_string()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid() -> ObjectId {
        ObjectId::parse_str("60332a72d656fd634b20f20a").unwrap()
    }

    #[test]
    fn invalid_ids_parse_to_none() {
        assert_eq!(parse_oid("60332a72d656fd634b20f20a"), Some(oid()));
        for bad in [
            "",
            "x",
            "60332a72d656fd634b20f20",
            "60332a72d656fd634b20f20g",
            "测试",
        ] {
            assert_eq!(parse_oid(bad), None, "{bad}");
        }
    }

    #[test]
    fn muc_collection_names() {
        assert_eq!(
            muc_collection("imRoom", "6c1536dbf97540d1b906d76f4272a90d").as_deref(),
            Some("mucmsg_6c1536dbf97540d1b906d76f4272a90d")
        );
        assert_eq!(muc_collection("imRoom", ""), None);
        assert_eq!(muc_collection("imRoom", "a$b"), None);
        assert_eq!(muc_collection("imRoom", "a\0b"), None);
        assert_eq!(muc_collection("imRoom", &"x".repeat(300)), None);
    }

    #[test]
    fn member_filter_escapes_keyword_and_filters_roles() {
        let q = MemberQuery {
            room_id: oid().to_hex(),
            roles: vec![1, 2],
            keyword: Some("a.b*%_测".into()),
            skip: 5,
            limit: 10,
        };
        let re = doc! { "$regex": r"a\.b\*%_测", "$options": "i" };
        assert_eq!(
            member_filter(oid(), &q),
            doc! {
                "roomId": oid(),
                "role": { "$in": [1, 2] },
                "$or": [ { "nickname": re.clone() }, { "remarkName": re } ],
            }
        );
        let q = MemberQuery {
            room_id: oid().to_hex(),
            keyword: Some(String::new()),
            ..MemberQuery::default()
        };
        assert_eq!(member_filter(oid(), &q), doc! { "roomId": oid() });
        assert_eq!(
            member_order(),
            doc! { "role": 1, "createTime": 1, "_id": 1 }
        );
    }

    #[test]
    fn room_filter_combines() {
        let q = RoomQuery {
            member: Some(5),
            roles: vec![1],
            public_only: true,
            keyword: Some("(群)".into()),
            status: Some(1),
            skip: 0,
            limit: 0,
        };
        let re = doc! { "$regex": r"\(群\)", "$options": "i" };
        assert_eq!(
            room_filter(&q, Some(vec![oid()])),
            doc! {
                "_id": { "$in": [oid()] },
                "isLook": 0,
                "s": 1,
                "$or": [ { "name": re.clone() }, { "desc": re } ],
            }
        );
        assert_eq!(room_filter(&RoomQuery::default(), None), doc! {});
        assert_eq!(
            member_rooms_filter(5, &[1, 2]),
            doc! { "userId": 5, "role": { "$in": [1, 2] } }
        );
        assert_eq!(member_rooms_filter(5, &[]), doc! { "userId": 5 });
    }

    #[test]
    fn muc_filters() {
        let q = MucQuery {
            jid: "j".into(),
            start_ms: Some(10),
            end_ms: Some(20),
            max_type: Some(100),
            hidden: vec!["m1".into()],
            skip: 0,
            limit: 0,
        };
        assert_eq!(
            muc_filter(&q),
            doc! {
                "ts": { "$gte": 10_i64, "$lte": 20_i64 },
                "contentType": { "$lt": 100 },
                "messageId": { "$nin": ["m1"] },
            }
        );
        assert_eq!(muc_filter(&MucQuery::default()), doc! {});
        assert_eq!(
            muc_delete_filter(&["a".into()], Some(100164)),
            doc! {
                "messageId": { "$in": ["a"] },
                "sender": { "$in": ["100164", 100164_i64, 100164_i32] },
            }
        );
        assert_eq!(
            muc_delete_filter(&["a".into()], None),
            doc! { "messageId": { "$in": ["a"] } }
        );
        assert_eq!(
            muc_search_filter("50%_[x]"),
            doc! { "content": { "$regex": r"50%_\[x\]" } }
        );
    }

    fn room() -> Room {
        serde_json::from_value(serde_json::json!({
            "_id": null, "jid": "f6c9eb95fc1048b7bba4b3c7e9249de1", "name": "005",
            "userId": 100164, "createTime": 1613965938_i64,
            "notice": { "_id": "60332a72d656fd634b20f20a", "roomId": "60332a72d656fd634b20f20a",
                        "text": "t", "time": 1, "modifyTime": 1 },
            "adminMaxNumber": 50,
        }))
        .unwrap()
    }

    #[test]
    fn room_documents_round_trip_with_object_ids() {
        let id = ObjectId::new();
        let d = room_insert_doc(id, &room()).unwrap();
        assert_eq!(d.keys().next().map(String::as_str), Some("_id"));
        assert_eq!(d.get("_id"), Some(&Bson::ObjectId(id)));
        let notice = d.get_document("notice").unwrap();
        assert_eq!(notice.get("_id"), Some(&Bson::ObjectId(oid())));
        assert_eq!(notice.get("roomId"), Some(&Bson::ObjectId(oid())));
        assert_eq!(d.get("userId"), Some(&Bson::Int32(100164)));
        assert_eq!(d.get("createTime"), Some(&Bson::Int64(1613965938)));
        let back = decode_room(d).unwrap();
        let mut expected = room();
        expected.id = Some(id.to_hex());
        assert_eq!(back, expected);
        assert_eq!(
            back.notice.room_id.as_deref(),
            Some(oid().to_hex().as_str())
        );
        assert_eq!(
            back.extra.get("adminMaxNumber"),
            Some(&serde_json::json!(50))
        );
    }

    #[test]
    fn room_update_turns_notice_ids_into_object_ids() {
        let notice = serde_json::json!({ "_id": oid().to_hex(), "roomId": "not-hex", "time": 2 });
        let u = room_update(
            &Patch::new()
                .set("notice", Val::Json(notice))
                .inc("userSize", 1),
        );
        let set = u
            .get_document("$set")
            .unwrap()
            .get_document("notice")
            .unwrap();
        assert_eq!(set.get("_id"), Some(&Bson::ObjectId(oid())));
        assert_eq!(set.get("roomId"), Some(&Bson::String("not-hex".into())));
        assert_eq!(u.get_document("$inc").unwrap(), &doc! { "userSize": 1 });
    }

    fn member() -> Member {
        serde_json::from_value(serde_json::json!({
            "roomId": oid().to_hex(), "userId": 100164, "nickname": "张益达", "role": 1,
            "createTime": 1613965938_i64, "hiding": -1,
        }))
        .unwrap()
    }

    #[test]
    fn member_upsert_body_leaves_filter_keys_to_the_filter() {
        let id = ObjectId::new();
        let body = member_insert_body(id, &member()).unwrap();
        assert_eq!(body.get("_id"), Some(&Bson::ObjectId(id)));
        assert!(body.get("roomId").is_none());
        assert!(body.get("userId").is_none());
        assert_eq!(body.get("role"), Some(&Bson::Int32(1)));
        assert_eq!(body.get("hiding"), Some(&Bson::Int64(-1)));
    }

    #[test]
    fn stored_members_decode_without_their_id() {
        // As Morphia stores it: ObjectId `_id` and `roomId`, numbers of several widths.
        let d = doc! {
            "_id": ObjectId::new(), "roomId": oid(), "userId": 100164_i64,
            "nickname": "张益达", "role": 1.0, "createTime": 1613965938_i32, "hiding": -1,
        };
        let m = decode_member(d).unwrap();
        assert_eq!(m.room_id.as_deref(), Some(oid().to_hex().as_str()));
        assert_eq!((m.user_id, m.role, m.create_time), (100164, 1, 1613965938));
        assert!(m.extra.get("_id").is_none());
        assert_eq!(m.extra.get("hiding"), Some(&serde_json::json!(-1)));
    }

    #[test]
    fn notices_and_shares_store_object_ids() {
        let notice = Notice {
            room_id: Some(oid().to_hex()),
            text: Some("公告".into()),
            time: 5,
            ..Notice::default()
        };
        let id = ObjectId::new();
        let d = owned_insert_doc(NOTICES, id, &notice).unwrap();
        assert_eq!(d.get("_id"), Some(&Bson::ObjectId(id)));
        assert_eq!(d.get("roomId"), Some(&Bson::ObjectId(oid())));
        let back: Notice = decode_owned(NOTICES, d).unwrap();
        assert_eq!(back.id.as_deref(), Some(id.to_hex().as_str()));
        assert_eq!(back.room_id, notice.room_id);
        assert_eq!(back.text, notice.text);
    }

    #[test]
    fn seed_muc_row_decodes() {
        let d = doc! {
            "_id": ObjectId::parse_str("60307a5a1bb77153b4e8bbff").unwrap(),
            "message": "{}", "room_jid": "6c1536dbf97540d1b906d76f4272a90d",
            "sender_jid": "100164/web", "sender": 100164_i64, "ts": 1613789786560_i64,
            "contentType": 1, "messageId": "skimweb_1001641613789795464562",
            "timeSend": 1613789795464_i64, "deleteTime": 0, "content": "不好", "readCount": 0,
        };
        let row = decode_muc("mucmsg_x", d).unwrap();
        assert_eq!(row.id.as_deref(), Some("60307a5a1bb77153b4e8bbff"));
        assert_eq!(row.sender, "100164");
        assert_eq!(row.ts, 1613789786560);
    }

    #[test]
    fn room_jids_merge_without_repeats() {
        let (mut seen, mut out) = (HashSet::new(), Vec::new());
        collect_jids(&doc! { "jids": ["a", "b"] }, &mut seen, &mut out);
        collect_jids(&doc! { "jids": ["b", "c", 5] }, &mut seen, &mut out);
        collect_jids(&doc! { "userId": 1 }, &mut seen, &mut out);
        assert_eq!(out, ["a", "b", "c"]);
    }
}
