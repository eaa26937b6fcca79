//! `MessageStore` on the reference's message collections: `shiku_msgs` and `shiku_lastChats`
//! (in `message_db`, or sharded, see [`MessageLayout`]), our offline queue `shiku_offline`
//! (`message_db`), and `NewFriends` / `stick_dialog` in the API database.
//!
//! Rows are written in the seed-002 shape (`sender`/`receiver` strings, `_id` an ObjectId the
//! server assigns). Legacy rows hold `sender`/`receiver` as numbers, so every filter on them
//! accepts the string, int64 and int32 forms.
//!
//! The sharded layout is inferred, not documented. Seed 002 (section 0, the collection table,
//! and the `/tigase/deleteMsg` notes "个人聊天记录存在于 shiku_msgs 库中 最新一条聊天记录存在于
//! shiku_lastChats 10 中") shows: a *database* `shiku_msgs` holding numbered collections (`10`),
//! a database `shiku_lastChats` holding `10` ("个人聊天最后一条记录", single-chat rows) and
//! `lastChats_muc` ("群聊天最后一条记录", room rows keyed by `jid`). Its sample users are
//! 100102…100164, all of which give 10 as `userId / 10000`, so we take the collection of a
//! message copy to be `owner / 10000` (integer division; the owner is the copy's `sender`) and
//! the collection of a single-chat conversation row to be `userId / 10000`. The shard key could
//! be another function that also yields 10 for these ids (e.g. the first two digits); nothing in
//! the seed tells them apart.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::*;
use crate::config::MessageLayout;
use crate::documents::{BodyOnce, LastChat, MsgRow, NewFriend, StickDialog};
use crate::store::{ChatWrite, HistoryQuery, MessageStore, OfflineItem, Shared};

/// Single-chat copies (reference layout, `message_db`).
const MSGS: &str = "shiku_msgs";
/// Conversation rows, single and room (reference layout, `message_db`).
const LAST_CHATS: &str = "shiku_lastChats";
/// Our offline queue (`message_db`); the reference kept offline messages in Tigase's store.
const OFFLINE: &str = "shiku_offline";
/// The offline queue's `seq` counter document.
const OFFLINE_SEQ: &str = "shiku_offline_seq";
/// Friend-protocol events (API database).
const NEW_FRIENDS: &str = "NewFriends";
/// Pinned conversations (API database).
const DIALOGS: &str = "stick_dialog";

/// Sharded layout: the collection of room conversation rows.
pub const ROOM_LAST_CHATS: &str = "lastChats_muc";
/// Sharded layout: users per numbered collection.
pub const SHARD_SIZE: i64 = 10_000;

/// Name of the unique index on message copies (ours; the reference has none).
const COPY_UNIQUE: &str = "shiku_copy_unique";
/// Name of the unique index on single-chat conversation rows (ours).
const SINGLE_UNIQUE: &str = "shiku_single_last_chat_unique";
/// Name of the unique index on room conversation rows (ours).
const ROOM_UNIQUE: &str = "shiku_room_last_chat_unique";

/// Which of the message databases a collection is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbRole {
    /// `message_db` (`tigase`).
    Message,
    /// Sharded layout: `shiku_msgs`.
    ShardedMsgs,
    /// Sharded layout: `shiku_lastChats`.
    ShardedLastChats,
}

/// What a collection holds, which decides its indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Message copies.
    Msgs,
    /// Conversation rows (single, or single and room in the reference layout).
    LastChats,
    /// Room conversation rows only (sharded `lastChats_muc`).
    RoomLastChats,
}

/// A message collection: database, name and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub db: DbRole,
    pub name: String,
    pub kind: Kind,
}

/// The numbered collection of a user in the sharded layout (`100164` → `"10"`).
pub fn shard_name(user_id: i64) -> String {
    (user_id / SHARD_SIZE).to_string()
}

/// A userId stored as text; the sharded layout needs it numeric.
fn numeric_owner(s: &str) -> StoreResult<i64> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| StoreError::Backend(format!("userId {s:?} is not numeric (sharded layout)")))
}

/// Where the copies owned by `owner` live.
pub fn msg_place(layout: MessageLayout, owner: &str) -> StoreResult<Place> {
    Ok(match layout {
        MessageLayout::Reference => Place {
            db: DbRole::Message,
            name: MSGS.into(),
            kind: Kind::Msgs,
        },
        MessageLayout::Sharded => Place {
            db: DbRole::ShardedMsgs,
            name: shard_name(numeric_owner(owner)?),
            kind: Kind::Msgs,
        },
    })
}

/// Where the single-chat conversation rows of `user_id` live.
pub fn single_last_place(layout: MessageLayout, user_id: &str) -> StoreResult<Place> {
    Ok(match layout {
        MessageLayout::Reference => Place {
            db: DbRole::Message,
            name: LAST_CHATS.into(),
            kind: Kind::LastChats,
        },
        MessageLayout::Sharded => Place {
            db: DbRole::ShardedLastChats,
            name: shard_name(numeric_owner(user_id)?),
            kind: Kind::LastChats,
        },
    })
}

/// Where room conversation rows live.
pub fn room_last_place(layout: MessageLayout) -> Place {
    match layout {
        MessageLayout::Reference => Place {
            db: DbRole::Message,
            name: LAST_CHATS.into(),
            kind: Kind::LastChats,
        },
        MessageLayout::Sharded => Place {
            db: DbRole::ShardedLastChats,
            name: ROOM_LAST_CHATS.into(),
            kind: Kind::RoomLastChats,
        },
    }
}

/// Every stored form of a userId: string (seed 002), int64 (Tigase `long`) and int32.
pub fn id_forms(id: i64) -> Bson {
    let mut forms = vec![Bson::String(id.to_string()), Bson::Int64(id)];
    if let Ok(small) = i32::try_from(id) {
        forms.push(Bson::Int32(small));
    }
    Bson::Document(doc! { "$in": forms })
}

/// The forms of a userId held as text: all of [`id_forms`] when it is a canonical number,
/// else the string itself.
pub fn text_id_forms(s: &str) -> Bson {
    match s.parse::<i64>() {
        Ok(n) if n.to_string() == s => id_forms(n),
        _ => Bson::String(s.to_string()),
    }
}

fn ts_range(start_ms: Option<i64>, end_ms: Option<i64>) -> Option<Document> {
    let mut range = Document::new();
    if let Some(start) = start_ms {
        range.insert("$gte", start);
    }
    if let Some(end) = end_ms {
        range.insert("$lte", end);
    }
    (!range.is_empty()).then_some(range)
}

fn string_list(items: &[String]) -> Bson {
    Bson::Array(items.iter().map(|s| Bson::String(s.clone())).collect())
}

/// `/tigase/shiku_msgs`: one owner's copies with a peer.
pub fn history_filter(q: &HistoryQuery) -> Document {
    let mut filter = doc! {
        "sender": id_forms(i64::from(q.owner)),
        "receiver": id_forms(i64::from(q.peer)),
    };
    if let Some(range) = ts_range(q.start_ms, q.end_ms) {
        filter.insert("ts", range);
    }
    if let Some(max) = q.max_type {
        filter.insert("contentType", doc! { "$lt": max });
    }
    filter
}

/// The copy a resend would duplicate: same owner, messageId and direction.
pub fn copy_filter(row: &MsgRow) -> Document {
    doc! {
        "sender": text_id_forms(&row.sender),
        "messageId": &row.message_id,
        "direction": row.direction,
    }
}

/// The reader's own received copies of these messages (unread).
pub fn reader_copies_filter(reader: i32, ids: &[String]) -> Document {
    doc! {
        "sender": id_forms(i64::from(reader)),
        "direction": 1,
        "messageId": { "$in": string_list(ids) },
        "isRead": { "$ne": 1 },
    }
}

/// The senders' copies of these messages addressed to the reader (unread).
pub fn sender_copies_filter(reader: i32, ids: &[String]) -> Document {
    doc! {
        "receiver": id_forms(i64::from(reader)),
        "direction": 0,
        "messageId": { "$in": string_list(ids) },
        "isRead": { "$ne": 1 },
    }
}

/// Both halves of `mark_read` in one filter (one collection holds every owner).
pub fn mark_read_filter(reader: i32, ids: &[String]) -> Document {
    doc! {
        "messageId": { "$in": string_list(ids) },
        "isRead": { "$ne": 1 },
        "$or": [
            { "sender": id_forms(i64::from(reader)), "direction": 1 },
            { "receiver": id_forms(i64::from(reader)), "direction": 0 },
        ],
    }
}

/// `owner`'s read copies whose `deleteTime` (s) has passed.
pub fn expired_filter(owner: i32, now_secs: i64) -> Document {
    doc! {
        "sender": id_forms(i64::from(owner)),
        "deleteTime": { "$gt": 0, "$lt": now_secs },
        "isRead": 1,
    }
}

/// `owner`'s copies whose `content` contains `needle` literally.
pub fn search_filter(owner: i32, needle: &str) -> Document {
    doc! {
        "sender": id_forms(i64::from(owner)),
        "content": { "$regex": escape_regex(needle) },
    }
}

/// The key of a single-chat conversation row. Rows without `isRoom` count as single chat.
pub fn single_last_key(user_id: &str, jid: &str) -> Document {
    doc! {
        "userId": text_id_forms(user_id),
        "jid": text_id_forms(jid),
        "isRoom": { "$ne": 1 },
    }
}

/// The key of a room conversation row.
pub fn room_last_key(jid: &str) -> Document {
    doc! { "jid": jid, "isRoom": 1 }
}

/// A user's single-chat conversation rows within optional `ts` bounds.
pub fn single_last_chats_filter(
    user_id: i32,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
) -> Document {
    let mut filter = doc! { "userId": id_forms(i64::from(user_id)), "isRoom": { "$ne": 1 } };
    if let Some(range) = ts_range(start_ms, end_ms) {
        filter.insert("ts", range);
    }
    filter
}

/// The rows of these rooms within optional `ts` bounds.
pub fn room_last_chats_filter(
    rooms: &[String],
    start_ms: Option<i64>,
    end_ms: Option<i64>,
) -> Document {
    let mut filter = doc! { "jid": { "$in": string_list(rooms) }, "isRoom": 1 };
    if let Some(range) = ts_range(start_ms, end_ms) {
        filter.insert("ts", range);
    }
    filter
}

/// `/tigase/getLastChatList` in the reference layout (one collection for both kinds).
pub fn last_chats_filter(
    user_id: i32,
    rooms: &[String],
    start_ms: Option<i64>,
    end_ms: Option<i64>,
) -> Document {
    let single = doc! { "userId": id_forms(i64::from(user_id)), "isRoom": { "$ne": 1 } };
    let mut filter = if rooms.is_empty() {
        single
    } else {
        doc! { "$or": [single, { "jid": { "$in": string_list(rooms) }, "isRoom": 1 }] }
    };
    if let Some(range) = ts_range(start_ms, end_ms) {
        filter.insert("ts", range);
    }
    filter
}

/// Newest first; `_id` (an ObjectId, so insertion order) breaks ties.
fn newest_first() -> Document {
    doc! { "ts": -1, "_id": -1 }
}

/// A document to insert: our `id` is never written, MongoDB assigns an ObjectId.
pub fn insert_doc<T: Serialize>(collection: &str, value: &T) -> StoreResult<Document> {
    let mut d = encode(collection, value)?;
    d.remove("_id");
    Ok(d)
}

/// Decodes a stored row, reading an ObjectId `_id` as its 24-hex string.
fn decode_row<T: DeserializeOwned>(collection: &str, mut d: Document) -> StoreResult<T> {
    // The deserializer presents an ObjectId as `{"$oid": ..}`, which `lenient::opt_id` reads;
    // converting here keeps that independent of the bson crate's representation.
    if let Some(Bson::ObjectId(oid)) = d.get("_id") {
        let hex = oid.to_hex();
        d.insert("_id", hex);
    }
    decode(collection, d)
}

/// A stored `shiku_msgs` copy as clients read it ([`BodyOnce`]).
fn decode_msg(d: Document) -> StoreResult<MsgRow> {
    decode_row::<MsgRow>(MSGS, d).map(BodyOnce::read_back)
}

/// Both the unique-index violation and our own duplicate check.
fn is_duplicate(e: &mongodb::error::Error) -> bool {
    error_code(e) == Some(DUPLICATE_KEY)
}

/// How to find the message databases of one deployment.
pub(super) struct MessageDbs {
    pub(super) layout: MessageLayout,
    pub(super) message: Database,
    pub(super) sharded_msgs: Database,
    sharded_last_chats: Database,
    /// Collections whose indexes this process has created (sharded collections appear as
    /// users do, so their indexes are made on first use); callers wait for the creation.
    prepared: Mutex<HashMap<String, Arc<OnceCell<()>>>>,
}

impl MessageDbs {
    /// The databases of `cfg`'s layout.
    pub(super) fn new(client: &Client, cfg: &MongoConfig) -> MessageDbs {
        MessageDbs {
            layout: cfg.layout,
            message: client.database(&cfg.message_db),
            sharded_msgs: client.database(&cfg.sharded_msgs_db),
            sharded_last_chats: client.database(&cfg.sharded_last_chats_db),
            prepared: Mutex::new(HashMap::new()),
        }
    }

    fn db(&self, role: DbRole) -> &Database {
        match role {
            DbRole::Message => &self.message,
            DbRole::ShardedMsgs => &self.sharded_msgs,
            DbRole::ShardedLastChats => &self.sharded_last_chats,
        }
    }
}

/// Creates the indexes of one message collection (the reference's, plus what we query by).
async fn create_place_indexes(coll: &Collection<Document>, kind: Kind) {
    match kind {
        Kind::Msgs => {
            for keys in [
                doc! { "sender": 1 },
                doc! { "receiver": 1 },
                doc! { "sender": 1, "receiver": 1 },
                doc! { "sender": 1, "receiver": 1, "ts": 1 },
                doc! { "timeSend": 1, "messageId": 1 },
                doc! { "messageId": 1 },
            ] {
                ensure_index_on(coll, keys, None).await;
            }
            let unique = IndexOptions::builder()
                .name(COPY_UNIQUE.to_string())
                .unique(true)
                .partial_filter_expression(doc! { "messageId": { "$type": "string" } })
                .build();
            if !ensure_index_on(
                coll,
                doc! { "sender": 1, "messageId": 1, "direction": 1 },
                Some(unique),
            )
            .await
            {
                tracing::warn!(
                    collection = %coll.namespace(),
                    "no unique index on (sender, messageId, direction): resends are only caught \
                     by the check before insert"
                );
            }
        }
        Kind::LastChats => {
            for keys in [
                doc! { "userId": 1 },
                doc! { "userId": 1, "jid": 1 },
                doc! { "jid": 1 },
            ] {
                ensure_index_on(coll, keys, None).await;
            }
            let unique = IndexOptions::builder()
                .name(SINGLE_UNIQUE.to_string())
                .unique(true)
                .partial_filter_expression(doc! { "isRoom": 0 })
                .build();
            ensure_index_on(coll, doc! { "userId": 1, "jid": 1 }, Some(unique)).await;
            let unique = IndexOptions::builder()
                .name(ROOM_UNIQUE.to_string())
                .unique(true)
                .partial_filter_expression(doc! { "isRoom": 1 })
                .build();
            ensure_index_on(coll, doc! { "jid": 1 }, Some(unique)).await;
        }
        Kind::RoomLastChats => {
            ensure_index_on(coll, doc! { "jid": 1 }, None).await;
            let unique = IndexOptions::builder()
                .name(ROOM_UNIQUE.to_string())
                .unique(true)
                .partial_filter_expression(doc! { "isRoom": 1 })
                .build();
            ensure_index_on(coll, doc! { "jid": 1 }, Some(unique)).await;
        }
    }
}

impl MongoStore {
    /// [`MessageStore::last_chats`], the rows as read.
    async fn last_chat_rows(
        &self,
        user_id: i32,
        room_jids: &[String],
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: u64,
    ) -> StoreResult<Vec<LastChat>> {
        let singles = self.single_last_chats_of(&user_id.to_string()).await?;
        if self.msgs.layout == MessageLayout::Reference {
            let filter = last_chats_filter(user_id, room_jids, start_ms, end_ms);
            return self
                .find_rows(&singles, LAST_CHATS, filter, newest_first(), 0, limit)
                .await;
        }
        let filter = single_last_chats_filter(user_id, start_ms, end_ms);
        let mut rows: Vec<LastChat> = self
            .find_rows(&singles, LAST_CHATS, filter, newest_first(), 0, limit)
            .await?;
        if !room_jids.is_empty() {
            let rooms = self.room_last_chats().await;
            let filter = room_last_chats_filter(room_jids, start_ms, end_ms);
            rows.extend(
                self.find_rows::<LastChat>(&rooms, LAST_CHATS, filter, newest_first(), 0, limit)
                    .await?,
            );
            // Two sorted lists merged: ObjectId hex strings order like their creation times.
            rows.sort_by(|a, b| b.ts.cmp(&a.ts).then_with(|| b.id.cmp(&a.id)));
            if limit > 0 {
                rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            }
        }
        Ok(rows)
    }

    /// The collection of `place`, its indexes created on first use.
    async fn place(&self, place: &Place) -> Collection<Document> {
        let db = self.msgs.db(place.db);
        let coll = db.collection::<Document>(&place.name);
        let key = format!("{}.{}", db.name(), place.name);
        let cell = {
            let mut prepared = self.msgs.prepared.lock().unwrap_or_else(|p| p.into_inner());
            prepared.entry(key).or_default().clone()
        };
        cell.get_or_init(|| create_place_indexes(&coll, place.kind))
            .await;
        coll
    }

    async fn msgs_of(&self, owner: &str) -> StoreResult<Collection<Document>> {
        let place = msg_place(self.msgs.layout, owner)?;
        Ok(self.place(&place).await)
    }

    async fn single_last_chats_of(&self, user_id: &str) -> StoreResult<Collection<Document>> {
        let place = single_last_place(self.msgs.layout, user_id)?;
        Ok(self.place(&place).await)
    }

    async fn room_last_chats(&self) -> Collection<Document> {
        self.place(&room_last_place(self.msgs.layout)).await
    }

    fn offline(&self) -> Collection<Document> {
        self.msgs.message.collection(OFFLINE)
    }

    /// Creates the message indexes at start-up (the sharded layout's: on first use).
    pub(super) async fn create_message_indexes(&self) {
        match self.msgs.layout {
            MessageLayout::Reference => {
                let _ = self.msgs_of("0").await;
                let _ = self.single_last_chats_of("0").await;
            }
            // Numbered collections appear with their users; `lastChats_muc` is prepared on
            // first use too, so that nothing is created in a database this layout may not use.
            MessageLayout::Sharded => {}
        }
        ensure_index_on(&self.offline(), doc! { "userId": 1, "_id": 1 }, None).await;
        self.ensure_index(NEW_FRIENDS, doc! { "userId": 1, "toUserId": 1 }, None)
            .await;
        self.ensure_index(DIALOGS, doc! { "userId": 1, "jid": 1 }, None)
            .await;
    }

    /// Finds documents, decoding each.
    async fn find_rows<T: DeserializeOwned>(
        &self,
        coll: &Collection<Document>,
        collection: &str,
        filter: Document,
        sort: Document,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<T>> {
        let mut find = coll.find(filter).sort(sort);
        if skip > 0 {
            find = find.skip(skip);
        }
        if limit > 0 {
            find = find.limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let docs: Vec<Document> = find
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        docs.into_iter()
            .map(|d| decode_row(collection, d))
            .collect()
    }

    /// Upserts with one retry: two concurrent upserts of a new key may both try to insert, and
    /// the loser hits the unique index (the server only retries that itself for equality keys).
    async fn upsert_set(
        &self,
        coll: &Collection<Document>,
        filter: Document,
        set: Document,
    ) -> StoreResult<()> {
        for attempt in 0..2 {
            match coll
                .update_one(filter.clone(), doc! { "$set": set.clone() })
                .upsert(true)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_duplicate(&e) && attempt == 0 => continue,
                Err(e) => return Err(write_error(e)),
            }
        }
        unreachable!("the loop returns")
    }

    async fn next_offline_seq(&self) -> StoreResult<i64> {
        let counter = self.msgs.message.collection::<Document>(OFFLINE_SEQ);
        for attempt in 0..2 {
            let updated = counter
                .find_one_and_update(doc! { "_id": "offline" }, doc! { "$inc": { "seq": 1_i64 } })
                .upsert(true)
                .return_document(ReturnDocument::After)
                .await;
            match updated {
                Ok(Some(d)) => {
                    return d
                        .get("seq")
                        .and_then(bson_to_i64)
                        .ok_or_else(|| StoreError::Decode {
                            collection: OFFLINE_SEQ.into(),
                            reason: "counter without a numeric `seq`".into(),
                        })
                }
                Ok(None) => {}
                Err(e) if is_duplicate(&e) && attempt == 0 => {}
                Err(e) => return Err(backend(e)),
            }
        }
        Err(StoreError::Backend("offline counter upsert failed".into()))
    }
}

/// Decodes an offline-queue document.
fn offline_item(d: &Document) -> StoreResult<OfflineItem> {
    let bad = |what: &str| StoreError::Decode {
        collection: OFFLINE.into(),
        reason: format!("_id {:?}: {what}", d.get("_id")),
    };
    Ok(OfflineItem {
        seq: d
            .get("_id")
            .and_then(bson_to_i64)
            .ok_or_else(|| bad("no numeric _id"))?,
        user_id: d
            .get("userId")
            .and_then(bson_to_i64)
            .and_then(|u| i32::try_from(u).ok())
            .ok_or_else(|| bad("no userId"))?,
        payload: d
            .get_str("payload")
            .map_err(|_| bad("no payload"))?
            .to_string(),
        ts: d.get("ts").and_then(bson_to_i64).unwrap_or(0),
    })
}

/// A stored `receiver` (string or number) as a userId.
fn peer_id(v: &Bson) -> Option<i32> {
    match v {
        Bson::String(s) => s.trim().parse().ok(),
        other => bson_to_i64(other).and_then(|i| i32::try_from(i).ok()),
    }
}

#[async_trait]
impl MessageStore for MongoStore {
    async fn store_chat(&self, write: &ChatWrite) -> StoreResult<bool> {
        if let Some((first, rest)) = write.rows.split_first() {
            let coll = self.msgs_of(&first.sender).await?;
            // The check covers rows stored with a numeric `sender` (which the unique index
            // cannot relate to ours); the index covers two resends racing past the check.
            let existing = coll
                .find_one(copy_filter(first))
                .projection(doc! { "_id": 1 })
                .await
                .map_err(backend)?;
            if existing.is_some() {
                return Ok(false);
            }
            match coll.insert_one(insert_doc(MSGS, &first.stored())?).await {
                Ok(_) => {}
                Err(e) if is_duplicate(&e) => return Ok(false),
                Err(e) => return Err(backend(e)),
            }
            for row in rest {
                let coll = self.msgs_of(&row.sender).await?;
                match coll.insert_one(insert_doc(MSGS, &row.stored())?).await {
                    // The other copy is already there (an earlier partial write): keep it.
                    Err(e) if !is_duplicate(&e) => return Err(backend(e)),
                    _ => {}
                }
            }
        }
        for row in &write.last_chats {
            self.upsert_last_chat(row).await?;
        }
        if let Some(o) = &write.offline {
            self.enqueue_offline(o.user_id, &o.payload, o.ts).await?;
        }
        Ok(true)
    }

    async fn history(&self, q: &HistoryQuery) -> StoreResult<Vec<Arc<Shared<MsgRow>>>> {
        // LIMIT 0 means no rows, as in SQL (MongoDB would read it as "no limit").
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let coll = self.msgs_of(&q.owner.to_string()).await?;
        self.find_rows(
            &coll,
            MSGS,
            history_filter(q),
            newest_first(),
            q.skip,
            q.limit,
        )
        .await
        .map(|rows: Vec<MsgRow>| {
            rows.into_iter()
                .map(|r| Shared::new(r.read_back()))
                .collect()
        })
    }

    async fn find_copy(&self, owner: i32, message_id: &str) -> StoreResult<Option<MsgRow>> {
        let coll = self.msgs_of(&owner.to_string()).await?;
        let found = coll
            .find_one(doc! { "sender": id_forms(i64::from(owner)), "messageId": message_id })
            .sort(doc! { "direction": 1 })
            .await
            .map_err(backend)?;
        found.map(decode_msg).transpose()
    }

    async fn mark_read(&self, reader: i32, message_ids: &[String]) -> StoreResult<u64> {
        if message_ids.is_empty() {
            return Ok(0);
        }
        let set = doc! { "$set": { "isRead": 1 } };
        let own = self.msgs_of(&reader.to_string()).await?;
        if self.msgs.layout == MessageLayout::Reference {
            let r = own
                .update_many(mark_read_filter(reader, message_ids), set)
                .await
                .map_err(write_error)?;
            return Ok(r.modified_count);
        }
        // Sharded: the senders' copies live in the senders' collections. The reader's own
        // copies name those senders (`receiver` of a direction-1 copy); its own collection also
        // holds its self-chat copies.
        let peers: Vec<Bson> = own
            .distinct(
                "receiver",
                doc! {
                    "sender": id_forms(i64::from(reader)),
                    "direction": 1,
                    "messageId": { "$in": string_list(message_ids) },
                },
            )
            .await
            .map_err(backend)?;
        let mut changed = own
            .update_many(reader_copies_filter(reader, message_ids), set.clone())
            .await
            .map_err(write_error)?
            .modified_count;
        let mut shards = BTreeSet::from([shard_name(i64::from(reader))]);
        shards.extend(
            peers
                .iter()
                .filter_map(peer_id)
                .map(|p| shard_name(i64::from(p))),
        );
        for shard in shards {
            let coll = self
                .place(&Place {
                    db: DbRole::ShardedMsgs,
                    name: shard,
                    kind: Kind::Msgs,
                })
                .await;
            changed += coll
                .update_many(sender_copies_filter(reader, message_ids), set.clone())
                .await
                .map_err(write_error)?
                .modified_count;
        }
        Ok(changed)
    }

    async fn delete_copies(&self, owner: i32, message_ids: &[String]) -> StoreResult<u64> {
        if message_ids.is_empty() {
            return Ok(0);
        }
        let coll = self.msgs_of(&owner.to_string()).await?;
        let r = coll
            .delete_many(doc! {
                "sender": id_forms(i64::from(owner)),
                "messageId": { "$in": string_list(message_ids) },
            })
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count)
    }

    async fn delete_received(
        &self,
        owner: i32,
        peer: i32,
        message_ids: &[String],
    ) -> StoreResult<u64> {
        if message_ids.is_empty() {
            return Ok(0);
        }
        let coll = self.msgs_of(&owner.to_string()).await?;
        let r = coll
            .delete_many(doc! {
                "sender": id_forms(i64::from(owner)),
                "receiver": id_forms(i64::from(peer)),
                "direction": 1,
                "messageId": { "$in": string_list(message_ids) },
            })
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count)
    }

    async fn clear_copies(&self, owner: i32, peer: Option<i32>) -> StoreResult<u64> {
        let coll = self.msgs_of(&owner.to_string()).await?;
        let mut filter = doc! { "sender": id_forms(i64::from(owner)) };
        if let Some(peer) = peer {
            filter.insert("receiver", id_forms(i64::from(peer)));
        }
        let r = coll.delete_many(filter).await.map_err(write_error)?;
        Ok(r.deleted_count)
    }

    async fn delete_expired(&self, owner: i32, now_secs: i64) -> StoreResult<Vec<i32>> {
        let coll = self.msgs_of(&owner.to_string()).await?;
        // Delete exactly the rows we saw, so the peers reported are those of deleted rows.
        let found: Vec<Document> = coll
            .find(expired_filter(owner, now_secs))
            .projection(doc! { "_id": 1, "receiver": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let mut peers = BTreeSet::new();
        let mut ids = Vec::with_capacity(found.len());
        for d in found {
            if let Some(p) = d.get("receiver").and_then(peer_id) {
                peers.insert(p);
            }
            if let Some(id) = d.get("_id") {
                ids.push(id.clone());
            }
        }
        for chunk in ids.chunks(1000) {
            coll.delete_many(doc! { "_id": { "$in": chunk.to_vec() } })
                .await
                .map_err(write_error)?;
        }
        Ok(peers.into_iter().collect())
    }

    async fn newest_copy(&self, owner: i32, peer: i32) -> StoreResult<Option<MsgRow>> {
        let coll = self.msgs_of(&owner.to_string()).await?;
        let found = coll
            .find_one(doc! {
                "sender": id_forms(i64::from(owner)),
                "receiver": id_forms(i64::from(peer)),
            })
            .sort(newest_first())
            .await
            .map_err(backend)?;
        found.map(decode_msg).transpose()
    }

    async fn search_copies(
        &self,
        owner: i32,
        needle: &str,
        limit: u64,
    ) -> StoreResult<Vec<MsgRow>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let coll = self.msgs_of(&owner.to_string()).await?;
        self.find_rows(
            &coll,
            MSGS,
            search_filter(owner, needle),
            newest_first(),
            0,
            limit,
        )
        .await
        .map(|rows: Vec<MsgRow>| rows.into_iter().map(BodyOnce::read_back).collect())
    }

    async fn upsert_last_chat(&self, row: &LastChat) -> StoreResult<()> {
        let set = insert_doc(LAST_CHATS, row)?;
        if row.is_room == 1 {
            let coll = self.room_last_chats().await;
            self.upsert_set(&coll, room_last_key(&row.jid), set).await
        } else {
            let coll = self.single_last_chats_of(&row.user_id).await?;
            self.upsert_set(&coll, single_last_key(&row.user_id, &row.jid), set)
                .await
        }
    }

    async fn last_chats(
        &self,
        user_id: i32,
        room_jids: &[String],
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: u64,
    ) -> StoreResult<Vec<Arc<Shared<LastChat>>>> {
        Ok(self
            .last_chat_rows(user_id, room_jids, start_ms, end_ms, limit)
            .await?
            .into_iter()
            .map(Shared::new)
            .collect())
    }

    async fn get_last_chat(
        &self,
        user_id: Option<i32>,
        jid: &str,
    ) -> StoreResult<Option<LastChat>> {
        let (coll, filter) = match user_id {
            Some(user) => {
                let user = user.to_string();
                (
                    self.single_last_chats_of(&user).await?,
                    single_last_key(&user, jid),
                )
            }
            None => (self.room_last_chats().await, room_last_key(jid)),
        };
        let found = coll.find_one(filter).await.map_err(backend)?;
        found.map(|d| decode_row(LAST_CHATS, d)).transpose()
    }

    async fn delete_last_chat(&self, user_id: i32, jid: &str) -> StoreResult<bool> {
        let user = user_id.to_string();
        let coll = self.single_last_chats_of(&user).await?;
        // delete_many: legacy data may hold the same pair twice.
        let r = coll
            .delete_many(single_last_key(&user, jid))
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count > 0)
    }

    async fn delete_room_last_chat(&self, jid: &str) -> StoreResult<bool> {
        let r = self
            .room_last_chats()
            .await
            .delete_many(room_last_key(jid))
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count > 0)
    }

    async fn enqueue_offline(&self, user_id: i32, payload: &str, ts: i64) -> StoreResult<i64> {
        let seq = self.next_offline_seq().await?;
        self.offline()
            .insert_one(doc! { "_id": seq, "userId": user_id, "payload": payload, "ts": ts })
            .await
            .map_err(write_error)?;
        Ok(seq)
    }

    async fn peek_offline(&self, user_id: i32, limit: u64) -> StoreResult<Vec<OfflineItem>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let docs: Vec<Document> = self
            .offline()
            .find(doc! { "userId": user_id })
            .sort(doc! { "_id": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        docs.iter().map(offline_item).collect()
    }

    async fn ack_offline(&self, user_id: i32, seq: i64) -> StoreResult<()> {
        self.offline()
            .delete_many(doc! { "userId": user_id, "_id": { "$lte": seq } })
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn trim_offline(&self, user_id: i32, max_items: u64, max_bytes: u64) -> StoreResult<u64> {
        // Newest first, only ids and sizes: the first item that no longer fits marks the cut.
        let mut cursor = self
            .offline()
            .aggregate(vec![
                doc! { "$match": { "userId": user_id } },
                doc! { "$sort": { "_id": -1 } },
                doc! { "$project": { "_id": 1, "size": { "$strLenBytes": "$payload" } } },
            ])
            .await
            .map_err(backend)?;
        let (mut n, mut bytes) = (0u64, 0u64);
        let mut cut = None;
        while let Some(d) = cursor.try_next().await.map_err(backend)? {
            n += 1;
            bytes += d
                .get("size")
                .and_then(|v| v.as_i32().map(i64::from).or_else(|| v.as_i64()))
                .unwrap_or(0)
                .max(0) as u64;
            if n > max_items || bytes > max_bytes {
                cut = d.get("_id").and_then(bson_to_i64);
                break;
            }
        }
        let Some(cut) = cut else {
            return Ok(0);
        };
        let r = self
            .offline()
            .delete_many(doc! { "userId": user_id, "_id": { "$lte": cut } })
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count)
    }

    async fn put_new_friend(&self, event: &NewFriend) -> StoreResult<()> {
        let doc = insert_doc(NEW_FRIENDS, event)?;
        let filter = doc! { "userId": event.user_id, "toUserId": event.to_user_id };
        for attempt in 0..2 {
            match self
                .coll(NEW_FRIENDS)
                .replace_one(filter.clone(), doc.clone())
                .upsert(true)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_duplicate(&e) && attempt == 0 => continue,
                Err(e) => return Err(write_error(e)),
            }
        }
        unreachable!("the loop returns")
    }

    async fn get_new_friend(
        &self,
        user_id: i32,
        to_user_id: i32,
    ) -> StoreResult<Option<NewFriend>> {
        let coll = self.coll(NEW_FRIENDS);
        let rows: Vec<NewFriend> = self
            .find_rows(
                &coll,
                NEW_FRIENDS,
                doc! { "userId": user_id, "toUserId": to_user_id },
                doc! { "modifyTime": -1 },
                0,
                1,
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    async fn new_friends(
        &self,
        user_id: i32,
        skip: u64,
        limit: u64,
    ) -> StoreResult<Vec<NewFriend>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let coll = self.coll(NEW_FRIENDS);
        self.find_rows(
            &coll,
            NEW_FRIENDS,
            doc! { "userId": user_id },
            doc! { "modifyTime": -1, "_id": -1 },
            skip,
            limit,
        )
        .await
    }

    async fn put_dialog(&self, dialog: &StickDialog) -> StoreResult<()> {
        let set = insert_doc(DIALOGS, dialog)?;
        let coll = self.coll(DIALOGS);
        self.upsert_set(
            &coll,
            doc! { "userId": dialog.user_id, "jid": &dialog.jid },
            set,
        )
        .await
    }

    async fn delete_dialog(&self, user_id: i32, jid: &str) -> StoreResult<bool> {
        let r = self
            .coll(DIALOGS)
            .delete_many(doc! { "userId": user_id, "jid": jid })
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count > 0)
    }

    async fn dialogs(&self, user_id: i32) -> StoreResult<Vec<StickDialog>> {
        let coll = self.coll(DIALOGS);
        self.find_rows(
            &coll,
            DIALOGS,
            doc! { "userId": user_id },
            doc! { "time": -1, "_id": -1 },
            0,
            0,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::oid::ObjectId;

    fn row() -> MsgRow {
        serde_json::from_value(serde_json::json!({
            "_id": "60346c7b1bb77153b4e8bc67",
            "message": "{\"content\":\"123\"}",
            "direction": 0,
            "sender": "100164",
            "receiver": "100102",
            "sender_jid": "100164/web",
            "receiver_jid": "100102",
            "ts": 1614048379623_i64,
            "contentType": 1,
            "messageId": "skimweb_100164161404837631184",
            "timeSend": 1614048376311_i64,
            "deleteTime": 0,
            "isRead": 1,
            "isEncrypt": false,
            "content": "123"
        }))
        .unwrap()
    }

    fn forms(n: i64) -> Bson {
        Bson::Document(doc! { "$in": [n.to_string(), n, n as i32] })
    }

    #[test]
    fn shards_are_per_ten_thousand_users() {
        assert_eq!(shard_name(100164), "10");
        assert_eq!(shard_name(100102), "10");
        assert_eq!(shard_name(99999), "9");
        assert_eq!(shard_name(10005), "1");
        assert_eq!(shard_name(10000002), "1000");
    }

    #[test]
    fn places_follow_the_layout() {
        let r = MessageLayout::Reference;
        let s = MessageLayout::Sharded;
        assert_eq!(
            msg_place(r, "100164").unwrap(),
            Place {
                db: DbRole::Message,
                name: "shiku_msgs".into(),
                kind: Kind::Msgs
            }
        );
        // The reference layout never needs a numeric owner.
        assert_eq!(msg_place(r, "x").unwrap().name, "shiku_msgs");
        assert_eq!(
            msg_place(s, "100164").unwrap(),
            Place {
                db: DbRole::ShardedMsgs,
                name: "10".into(),
                kind: Kind::Msgs
            }
        );
        assert!(msg_place(s, "abc").is_err());
        assert_eq!(
            single_last_place(r, "100164").unwrap(),
            Place {
                db: DbRole::Message,
                name: "shiku_lastChats".into(),
                kind: Kind::LastChats
            }
        );
        assert_eq!(
            single_last_place(s, "123456").unwrap(),
            Place {
                db: DbRole::ShardedLastChats,
                name: "12".into(),
                kind: Kind::LastChats
            }
        );
        assert_eq!(room_last_place(r).name, "shiku_lastChats");
        assert_eq!(
            room_last_place(s),
            Place {
                db: DbRole::ShardedLastChats,
                name: "lastChats_muc".into(),
                kind: Kind::RoomLastChats
            }
        );
    }

    #[test]
    fn ids_match_every_stored_form() {
        assert_eq!(id_forms(100164), forms(100164));
        // Too big for int32: no int32 form.
        assert_eq!(
            id_forms(5_000_000_000),
            Bson::Document(doc! { "$in": ["5000000000", 5_000_000_000_i64] })
        );
        assert_eq!(text_id_forms("100164"), forms(100164));
        assert_eq!(text_id_forms("0100"), Bson::String("0100".into()));
        assert_eq!(
            text_id_forms("6c1536dbf97540d1b906d76f4272a90d"),
            Bson::String("6c1536dbf97540d1b906d76f4272a90d".into())
        );
    }

    #[test]
    fn history_filter_has_only_what_was_asked() {
        let q = HistoryQuery {
            owner: 100164,
            peer: 100102,
            limit: 20,
            ..HistoryQuery::default()
        };
        assert_eq!(
            history_filter(&q),
            doc! { "sender": forms(100164), "receiver": forms(100102) }
        );
        let q = HistoryQuery {
            start_ms: Some(1),
            end_ms: Some(2),
            max_type: Some(200),
            ..q
        };
        assert_eq!(
            history_filter(&q),
            doc! {
                "sender": forms(100164), "receiver": forms(100102),
                "ts": { "$gte": 1_i64, "$lte": 2_i64 },
                "contentType": { "$lt": 200 },
            }
        );
        let q = HistoryQuery {
            start_ms: None,
            max_type: None,
            ..q
        };
        assert_eq!(
            history_filter(&q).get_document("ts").unwrap(),
            &doc! { "$lte": 2_i64 }
        );
    }

    #[test]
    fn read_filters_touch_only_the_readers_conversations() {
        let ids = vec!["m1".to_string(), "m2".to_string()];
        assert_eq!(
            mark_read_filter(7, &ids),
            doc! {
                "messageId": { "$in": ["m1", "m2"] },
                "isRead": { "$ne": 1 },
                "$or": [
                    { "sender": forms(7), "direction": 1 },
                    { "receiver": forms(7), "direction": 0 },
                ],
            }
        );
        assert_eq!(
            reader_copies_filter(7, &ids),
            doc! { "sender": forms(7), "direction": 1, "messageId": { "$in": ["m1", "m2"] }, "isRead": { "$ne": 1 } }
        );
        assert_eq!(
            sender_copies_filter(7, &ids),
            doc! { "receiver": forms(7), "direction": 0, "messageId": { "$in": ["m1", "m2"] }, "isRead": { "$ne": 1 } }
        );
    }

    #[test]
    fn other_filters() {
        assert_eq!(
            expired_filter(5, 100),
            doc! { "sender": forms(5), "deleteTime": { "$gt": 0, "$lt": 100_i64 }, "isRead": 1 }
        );
        assert_eq!(
            search_filter(5, "50%_a.b*(张)"),
            doc! { "sender": forms(5), "content": { "$regex": r"50%_a\.b\*\(张\)" } }
        );
        assert_eq!(
            copy_filter(&row()),
            doc! { "sender": forms(100164), "messageId": "skimweb_100164161404837631184", "direction": 0 }
        );
        assert_eq!(
            single_last_key("100164", "100102"),
            doc! { "userId": forms(100164), "jid": forms(100102), "isRoom": { "$ne": 1 } }
        );
        assert_eq!(room_last_key("r1"), doc! { "jid": "r1", "isRoom": 1 });
    }

    #[test]
    fn last_chat_filters() {
        let single = doc! { "userId": forms(9), "isRoom": { "$ne": 1 } };
        assert_eq!(last_chats_filter(9, &[], None, None), single.clone());
        let rooms = vec!["r1".to_string()];
        assert_eq!(
            last_chats_filter(9, &rooms, Some(5), None),
            doc! {
                "$or": [single.clone(), { "jid": { "$in": ["r1"] }, "isRoom": 1 }],
                "ts": { "$gte": 5_i64 },
            }
        );
        assert_eq!(
            single_last_chats_filter(9, None, Some(6)),
            doc! { "userId": forms(9), "isRoom": { "$ne": 1 }, "ts": { "$lte": 6_i64 } }
        );
        assert_eq!(
            room_last_chats_filter(&rooms, None, None),
            doc! { "jid": { "$in": ["r1"] }, "isRoom": 1 }
        );
    }

    #[test]
    fn rows_are_inserted_without_our_id_in_the_seed_types() {
        let d = insert_doc(MSGS, &row()).unwrap();
        assert!(d.get("_id").is_none());
        assert_eq!(d.get("sender"), Some(&Bson::String("100164".into())));
        assert_eq!(d.get("ts"), Some(&Bson::Int64(1614048379623)));
        assert_eq!(d.get("timeSend"), Some(&Bson::Int64(1614048376311)));
        assert_eq!(d.get("contentType"), Some(&Bson::Int32(1)));
        assert_eq!(d.get("isEncrypt"), Some(&Bson::Boolean(false)));
    }

    /// The body JSON is stored once (`body`) and read back in `message` too; a row whose two
    /// fields differ (the reference's stanza XML in `message`) keeps both.
    #[test]
    fn the_body_is_stored_once_and_read_back_in_message() {
        let mut same = row();
        same.body.clone_from(&same.message);
        let d = insert_doc(MSGS, &same.stored()).unwrap();
        assert_eq!(d.get_str("message").unwrap(), "");
        assert_eq!(d.get_str("body").unwrap(), same.body);
        let read = decode_msg(d).unwrap();
        assert_eq!((read.message, read.body), (same.message.clone(), same.body));
        let mut other = row();
        other.body = "{}".into();
        let read = decode_msg(insert_doc(MSGS, &other.stored()).unwrap()).unwrap();
        assert_eq!(read.message, other.message);
    }

    #[test]
    fn object_ids_and_legacy_numbers_decode() {
        let oid = ObjectId::parse_str("60346c7b1bb77153b4e8bc67").unwrap();
        let legacy = doc! {
            "_id": oid,
            "body": "{}",
            "direction": 1_i32,
            "sender": 100164_i64,
            "receiver": 100102_i64,
            "ts": 1559788027000_i64,
            "contentType": 1_i32,
            "messageId": "m",
            "timeSend": 1559788026.732,
            "deleteTime": -1_i64,
            "isRead": 0_i32,
            "content": "x",
            "type": 1_i32,
        };
        // The bson deserializer alone (what `lenient::opt_id` sees) ...
        let direct: MsgRow = decode(MSGS, legacy.clone()).unwrap();
        assert_eq!(direct.id.as_deref(), Some("60346c7b1bb77153b4e8bc67"));
        // ... and our explicit conversion agree.
        let r: MsgRow = decode_row(MSGS, legacy).unwrap();
        assert_eq!(r.id.as_deref(), Some("60346c7b1bb77153b4e8bc67"));
        assert_eq!(
            (r.sender.as_str(), r.receiver.as_str()),
            ("100164", "100102")
        );
        assert_eq!(r.time_send.as_f64(), Some(1559788026.732));
        assert_eq!(r.delete_time, -1);
        let lc: LastChat = decode_row(
            LAST_CHATS,
            doc! { "_id": oid, "userId": "100164", "jid": "100102", "isRoom": 0, "timeSend": 1_i64, "isEncrypt": 0 },
        )
        .unwrap();
        assert_eq!(lc.id.as_deref(), Some("60346c7b1bb77153b4e8bc67"));
    }

    #[test]
    fn offline_items_decode() {
        let item =
            offline_item(&doc! { "_id": 3_i64, "userId": 100164, "payload": "{}", "ts": 5_i64 })
                .unwrap();
        assert_eq!(
            item,
            OfflineItem {
                seq: 3,
                user_id: 100164,
                payload: "{}".into(),
                ts: 5
            }
        );
        assert!(offline_item(&doc! { "_id": "x", "userId": 1, "payload": "" }).is_err());
        assert_eq!(peer_id(&Bson::String("100102".into())), Some(100102));
        assert_eq!(peer_id(&Bson::Int64(100102)), Some(100102));
        assert_eq!(peer_id(&Bson::String("room".into())), None);
    }
}
