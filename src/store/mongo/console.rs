//! `ConsoleStore` on the reference collections (`user`, `userRoles`, `u_friends`, the message
//! collections of the configured layout, `mucmsg_<jid>`) plus our `shiku_online_samples`.

use mongodb::bson::oid::ObjectId;

use super::messages::id_forms;
use super::*;
use crate::config::MessageLayout;
use crate::documents::{BodyOnce, MsgRow, MucRow};
use crate::store::console::{ChatLogQuery, ConsoleStore, ConsoleUserQuery, RoomLogQuery};

/// Online-user samples (ours; the reference has no equivalent).
const ONLINE: &str = "shiku_online_samples";
/// The single-chat collection of the reference layout.
const MSGS_COLL: &str = "shiku_msgs";
/// Rooms (room database).
const ROOMS_COLL: &str = "shiku_room";

/// `$regex` matching `s` literally anywhere, case-insensitive.
fn contains_ci(s: &str) -> Document {
    doc! { "$regex": escape_regex(s), "$options": "i" }
}

fn user_filter(q: &ConsoleUserQuery) -> Document {
    let mut f = Document::new();
    let mut or: Vec<Document> = Vec::new();
    if let Some(k) = &q.keyword {
        or.push(doc! { "nickname": contains_ci(k) });
        or.push(doc! { "telephone": contains_ci(k) });
    }
    if let Some(id) = q.user_id {
        or.push(doc! { "_id": id });
    }
    if !or.is_empty() {
        f.insert("$or", or);
    }
    if let Some(o) = q.online {
        // A missing field counts as offline.
        if o == 0 {
            f.insert("onlinestate", doc! { "$ne": 1 });
        } else {
            f.insert("onlinestate", o);
        }
    }
    let mut created = Document::new();
    if let Some(from) = q.created_from {
        created.insert("$gte", from);
    }
    if let Some(to) = q.created_to {
        created.insert("$lte", to);
    }
    if !created.is_empty() {
        f.insert("createTime", created);
    }
    if let Some(t) = q.user_type {
        f.insert("userType", t);
    }
    f
}

fn chat_filter(q: &ChatLogQuery) -> Document {
    let mut f = doc! { "direction": 0 };
    let mut ts = Document::new();
    if let Some(s) = q.start_ms {
        ts.insert("$gte", s);
    }
    if let Some(e) = q.end_ms {
        ts.insert("$lte", e);
    }
    if !ts.is_empty() {
        f.insert("ts", ts);
    }
    let mut and: Vec<Document> = Vec::new();
    if let Some(s) = q.sender {
        and.push(doc! { "sender": id_forms(i64::from(s)) });
    }
    if let Some(r) = q.receiver {
        and.push(doc! { "receiver": id_forms(i64::from(r)) });
    }
    for u in &q.exclude_users {
        let Bson::Document(forms) = id_forms(i64::from(*u)) else {
            continue;
        };
        if let Ok(list) = forms.get_array("$in") {
            and.push(doc! { "sender": { "$nin": list.clone() } });
            and.push(doc! { "receiver": { "$nin": list.clone() } });
        }
    }
    if !and.is_empty() {
        f.insert("$and", and);
    }
    if let Some(k) = &q.keyword {
        f.insert("content", doc! { "$regex": escape_regex(k) });
    }
    f
}

fn oids(ids: &[String]) -> Vec<ObjectId> {
    ids.iter()
        .filter_map(|h| ObjectId::parse_str(h).ok())
        .collect()
}

async fn collect_docs(cursor: mongodb::Cursor<Document>) -> StoreResult<Vec<Document>> {
    cursor.try_collect().await.map_err(backend)
}

impl MongoStore {
    /// Every collection holding single-chat copies in the configured layout.
    async fn chat_collections(&self) -> StoreResult<Vec<Collection<Document>>> {
        match self.msgs.layout {
            MessageLayout::Reference => Ok(vec![self.msgs.message.collection(MSGS_COLL)]),
            MessageLayout::Sharded => {
                let db = &self.msgs.sharded_msgs;
                let mut names: Vec<String> = db
                    .list_collection_names()
                    .await
                    .map_err(backend)?
                    .into_iter()
                    .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    .collect();
                names.sort();
                Ok(names.iter().map(|n| db.collection(n)).collect())
            }
        }
    }
}

#[async_trait]
impl ConsoleStore for MongoStore {
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.coll(META)
            .update_one(doc! { "_id": key }, doc! { "$set": { "value": value } })
            .upsert(true)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn delete_meta(&self, key: &str) -> StoreResult<bool> {
        let r = self
            .coll(META)
            .delete_one(doc! { "_id": key })
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count > 0)
    }

    async fn list_users(&self, q: &ConsoleUserQuery) -> StoreResult<(Vec<User>, u64)> {
        let filter = user_filter(q);
        let total = self
            .coll(USER)
            .count_documents(filter.clone())
            .await
            .map_err(backend)?;
        if q.limit == 0 {
            return Ok((Vec::new(), total));
        }
        let cursor = self
            .coll(USER)
            .find(filter)
            .sort(doc! { "createTime": -1, "_id": -1 })
            .skip(q.skip)
            .limit(i64::try_from(q.limit).unwrap_or(i64::MAX))
            .await
            .map_err(backend)?;
        let users = collect_docs(cursor)
            .await?
            .into_iter()
            .map(|d| decode(USER, d))
            .collect::<StoreResult<Vec<User>>>()?;
        Ok((users, total))
    }

    async fn delete_user(&self, user_id: i32) -> StoreResult<bool> {
        let r = self
            .coll(USER)
            .delete_one(doc! { "_id": user_id })
            .await
            .map_err(write_error)?;
        self.coll(LOGIN_LOG)
            .delete_one(doc! { "_id": user_id })
            .await
            .map_err(write_error)?;
        self.coll(ROLES)
            .delete_many(doc! { "userId": user_id })
            .await
            .map_err(write_error)?;
        self.coll(FRIENDS)
            .delete_many(doc! { "$or": [ { "userId": user_id }, { "toUserId": user_id } ] })
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count > 0)
    }

    async fn list_roles(
        &self,
        roles: &[i32],
        skip: u64,
        limit: u64,
    ) -> StoreResult<(Vec<UserRole>, u64)> {
        let filter = doc! { "role": { "$in": roles.to_vec() } };
        let total = self
            .coll(ROLES)
            .count_documents(filter.clone())
            .await
            .map_err(backend)?;
        if limit == 0 {
            return Ok((Vec::new(), total));
        }
        let cursor = self
            .coll(ROLES)
            .find(filter)
            .sort(doc! { "_id": -1 })
            .skip(skip)
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(backend)?;
        let rows = collect_docs(cursor)
            .await?
            .into_iter()
            .map(|d| decode(ROLES, d))
            .collect::<StoreResult<Vec<UserRole>>>()?;
        Ok((rows, total))
    }

    async fn touch_roles(&self, user_id: i32, roles: &[i32], last_login: i64) -> StoreResult<()> {
        self.coll(ROLES)
            .update_many(
                doc! { "userId": user_id, "role": { "$in": roles.to_vec() } },
                doc! { "$set": { "lastLoginTime": last_login } },
            )
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn delete_roles(&self, user_id: i32, roles: &[i32]) -> StoreResult<u64> {
        let r = self
            .coll(ROLES)
            .delete_many(doc! { "userId": user_id, "role": { "$in": roles.to_vec() } })
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count)
    }

    async fn chat_logs(&self, q: &ChatLogQuery) -> StoreResult<(Vec<MsgRow>, u64)> {
        let filter = chat_filter(q);
        let colls = self.chat_collections().await?;
        let mut total = 0;
        let mut docs: Vec<Document> = Vec::new();
        // Each collection gives its newest skip+limit rows; merged by `_id` (ObjectIds sort by
        // creation) they hold the requested page wherever its rows live.
        let want = q.skip.saturating_add(q.limit);
        for coll in &colls {
            total += coll
                .count_documents(filter.clone())
                .await
                .map_err(backend)?;
            if want == 0 {
                continue;
            }
            let cursor = coll
                .find(filter.clone())
                .sort(doc! { "_id": -1 })
                .limit(i64::try_from(want).unwrap_or(i64::MAX))
                .await
                .map_err(backend)?;
            docs.extend(collect_docs(cursor).await?);
        }
        if q.limit == 0 {
            return Ok((Vec::new(), total));
        }
        let key = |d: &Document| d.get_object_id("_id").ok();
        docs.sort_by_key(|d| std::cmp::Reverse(key(d)));
        let rows = docs
            .into_iter()
            .skip(usize::try_from(q.skip).unwrap_or(usize::MAX))
            .take(usize::try_from(q.limit).unwrap_or(usize::MAX))
            .map(|d| decode::<MsgRow>(MSGS_COLL, d).map(BodyOnce::read_back))
            .collect::<StoreResult<Vec<MsgRow>>>()?;
        Ok((rows, total))
    }

    async fn delete_chat_logs(&self, q: &ChatLogQuery) -> StoreResult<u64> {
        let filter = chat_filter(q);
        let mut deleted = 0;
        let colls = self.chat_collections().await?;
        let mut ids: Vec<String> = Vec::new();
        for coll in &colls {
            let cursor = coll
                .find(filter.clone())
                .projection(doc! { "messageId": 1 })
                .await
                .map_err(backend)?;
            for d in collect_docs(cursor).await? {
                if let Ok(id) = d.get_str("messageId") {
                    ids.push(id.to_string());
                }
            }
        }
        // Both copies of each message (the receiver's may live in another shard).
        for chunk in ids.chunks(1000) {
            for coll in &colls {
                let r = coll
                    .delete_many(doc! { "messageId": { "$in": chunk.to_vec() } })
                    .await
                    .map_err(write_error)?;
                deleted += r.deleted_count;
            }
        }
        Ok(deleted)
    }

    async fn delete_chat_rows(&self, ids: &[String]) -> StoreResult<u64> {
        let ids = oids(ids);
        if ids.is_empty() {
            return Ok(0);
        }
        let mut deleted = 0;
        for coll in self.chat_collections().await? {
            let r = coll
                .delete_many(doc! { "_id": { "$in": ids.clone() } })
                .await
                .map_err(write_error)?;
            deleted += r.deleted_count;
        }
        Ok(deleted)
    }

    async fn delete_chats_before(&self, ts_ms: i64) -> StoreResult<u64> {
        let mut deleted = 0;
        for coll in self.chat_collections().await? {
            let r = coll
                .delete_many(doc! { "ts": { "$lt": ts_ms } })
                .await
                .map_err(write_error)?;
            deleted += r.deleted_count;
        }
        Ok(deleted)
    }

    async fn trim_chats(&self, keep: u64) -> StoreResult<u64> {
        // The `_id` of the keep-th newest row over every collection bounds what stays.
        let colls = self.chat_collections().await?;
        let mut newest: Vec<ObjectId> = Vec::new();
        for coll in &colls {
            let cursor = coll
                .find(doc! {})
                .sort(doc! { "_id": -1 })
                .limit(i64::try_from(keep).unwrap_or(i64::MAX).max(1))
                .projection(doc! { "_id": 1 })
                .await
                .map_err(backend)?;
            newest.extend(
                collect_docs(cursor)
                    .await?
                    .iter()
                    .filter_map(|d| d.get_object_id("_id").ok()),
            );
        }
        newest.sort_by(|a, b| b.cmp(a));
        let bound = match keep {
            0 => None,
            k => match newest.get(usize::try_from(k - 1).unwrap_or(usize::MAX)) {
                Some(b) => Some(*b),
                None => return Ok(0),
            },
        };
        let filter = match bound {
            Some(b) => doc! { "_id": { "$lt": b } },
            None => doc! {},
        };
        let mut deleted = 0;
        for coll in &colls {
            let r = coll
                .delete_many(filter.clone())
                .await
                .map_err(write_error)?;
            deleted += r.deleted_count;
        }
        Ok(deleted)
    }

    async fn room_logs(&self, q: &RoomLogQuery) -> StoreResult<(Vec<MucRow>, u64)> {
        let Some(name) = rooms::muc_collection(self.rooms.db.name(), &q.jid) else {
            return Ok((Vec::new(), 0));
        };
        let coll = self.rooms.db.collection::<Document>(&name);
        let mut filter = Document::new();
        let mut ts = Document::new();
        if let Some(s) = q.start_ms {
            ts.insert("$gte", s);
        }
        if let Some(e) = q.end_ms {
            ts.insert("$lte", e);
        }
        if !ts.is_empty() {
            filter.insert("ts", ts);
        }
        if let Some(k) = &q.keyword {
            filter.insert("content", doc! { "$regex": escape_regex(k) });
        }
        if let Some(t) = q.content_type {
            filter.insert("contentType", t);
        }
        let total = coll
            .count_documents(filter.clone())
            .await
            .map_err(backend)?;
        if q.limit == 0 {
            return Ok((Vec::new(), total));
        }
        let dir = if q.ascending { 1 } else { -1 };
        let cursor = coll
            .find(filter)
            .sort(doc! { "ts": dir, "_id": dir })
            .skip(q.skip)
            .limit(i64::try_from(q.limit).unwrap_or(i64::MAX))
            .await
            .map_err(backend)?;
        let rows = collect_docs(cursor)
            .await?
            .into_iter()
            .map(|d| decode::<MucRow>(&name, d).map(BodyOnce::read_back))
            .collect::<StoreResult<Vec<MucRow>>>()?;
        Ok((rows, total))
    }

    async fn delete_room_rows(&self, jid: &str, ids: &[String]) -> StoreResult<u64> {
        let Some(name) = rooms::muc_collection(self.rooms.db.name(), jid) else {
            return Ok(0);
        };
        let ids = oids(ids);
        if ids.is_empty() {
            return Ok(0);
        }
        let r = self
            .rooms
            .db
            .collection::<Document>(&name)
            .delete_many(doc! { "_id": { "$in": ids } })
            .await
            .map_err(write_error)?;
        Ok(r.deleted_count)
    }

    async fn count_rooms(&self) -> StoreResult<u64> {
        self.rooms
            .db
            .collection::<Document>(ROOMS_COLL)
            .count_documents(doc! {})
            .await
            .map_err(backend)
    }

    async fn put_online_sample(&self, ts: i64, online: u64) -> StoreResult<()> {
        let n = i64::try_from(online).unwrap_or(i64::MAX);
        self.coll(ONLINE)
            .update_one(doc! { "_id": ts }, doc! { "$set": { "n": n } })
            .upsert(true)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn online_samples(&self, from: i64, to: i64) -> StoreResult<Vec<(i64, u64)>> {
        let cursor = self
            .coll(ONLINE)
            .find(doc! { "_id": { "$gte": from, "$lte": to } })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        Ok(collect_docs(cursor)
            .await?
            .iter()
            .filter_map(|d| {
                let ts = d.get("_id").and_then(bson_to_i64)?;
                let n = d.get("n").and_then(bson_to_i64)?;
                Some((ts, n.max(0) as u64))
            })
            .collect())
    }

    async fn prune_online_samples(&self, before: i64) -> StoreResult<()> {
        self.coll(ONLINE)
            .delete_many(doc! { "_id": { "$lt": before } })
            .await
            .map_err(write_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_filter_matches_literally_and_by_id() {
        let f = user_filter(&ConsoleUserQuery {
            keyword: Some("a.b".into()),
            user_id: Some(7),
            online: Some(0),
            created_from: Some(5),
            ..ConsoleUserQuery::default()
        });
        let or = f.get_array("$or").unwrap();
        assert_eq!(or.len(), 3);
        assert_eq!(
            or[0]
                .as_document()
                .unwrap()
                .get_document("nickname")
                .unwrap(),
            &doc! { "$regex": "a\\.b", "$options": "i" }
        );
        assert_eq!(f.get_document("onlinestate").unwrap(), &doc! { "$ne": 1 });
        assert_eq!(
            f.get_document("createTime").unwrap(),
            &doc! { "$gte": 5_i64 }
        );
        assert!(user_filter(&ConsoleUserQuery::default()).is_empty());
    }

    #[test]
    fn chat_filter_takes_sender_copies_in_every_id_form() {
        let f = chat_filter(&ChatLogQuery {
            sender: Some(100),
            exclude_users: vec![10005],
            keyword: Some("(x".into()),
            ..ChatLogQuery::default()
        });
        assert_eq!(f.get_i32("direction").unwrap(), 0);
        let and = f.get_array("$and").unwrap();
        assert_eq!(and.len(), 3);
        let sender = and[0]
            .as_document()
            .unwrap()
            .get_document("sender")
            .unwrap();
        assert_eq!(sender.get_array("$in").unwrap().len(), 3);
        assert_eq!(
            f.get_document("content").unwrap(),
            &doc! { "$regex": "\\(x" }
        );
        assert_eq!(
            oids(&["zz".into(), "0123456789abcdef01234567".into()]).len(),
            1
        );
    }
}
