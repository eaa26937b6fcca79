//! On MongoDB the hot queries use indexes (issue 18): the store runs the queries behind the
//! history page, the conversation list, the offline queue, the room member list, room history
//! and the friend list with a command monitor on its driver; every `find`, `aggregate`, `count`
//! and `distinct` it sent is then explained by the server, and a collection scan anywhere in a
//! winning plan fails the test, naming the command. The queries are the adapter's own, not
//! copies, so a new filter or sort that misses its index is caught.
//!
//! Needs `SHIKU_TEST_MONGODB_URI` (CI starts SecantusDB); without it the test says it skipped.

mod common;

use std::sync::{Arc, Mutex};

use mongodb::bson::{doc, Bson, Document};
use mongodb::event::command::CommandEvent;
use mongodb::event::EventHandler;
use shiku_server::config::{MessageLayout, MongoConfig};
use shiku_server::store::mongo::MongoStore;
use shiku_server::store::{FriendQuery, HistoryQuery, MemberQuery, MucQuery, Store};

const OWNER: i32 = 100164;
const PEER: i32 = 100102;
const ROOM_JID: &str = "6c1536dbf97540d1b906d76f4272a90d";

/// A command the store sent: its database and body.
type Seen = Arc<Mutex<Vec<(String, Document)>>>;

/// Commands that read with a query plan.
const PLANNED: [&str; 4] = ["find", "aggregate", "count", "distinct"];

async fn observed_store(cfg: &MongoConfig, seen: Seen) -> Store {
    let s = MongoStore::connect_with(cfg, move |o| {
        o.command_event_handler = Some(EventHandler::callback(move |e: CommandEvent| {
            if let CommandEvent::Started(s) = e {
                if PLANNED.contains(&s.command_name.as_str()) {
                    seen.lock().unwrap().push((s.db, s.command));
                }
            }
        }));
    })
    .await
    .expect("MongoDB reachable");
    let d = s.description();
    Store::from_adapter(Arc::new(s), d)
}

/// The stages of a plan, depth first.
fn stages(plan: &Bson, out: &mut Vec<String>) {
    match plan {
        Bson::Document(d) => {
            if let Ok(stage) = d.get_str("stage") {
                out.push(stage.to_string());
            }
            for (_, v) in d {
                stages(v, out);
            }
        }
        Bson::Array(a) => a.iter().for_each(|v| stages(v, out)),
        _ => {}
    }
}

/// The command without what the driver adds for the wire (session, cluster time, `$db`).
fn explainable(mut cmd: Document) -> Document {
    for k in [
        "lsid",
        "$clusterTime",
        "$db",
        "txnNumber",
        "$readPreference",
    ] {
        cmd.remove(k);
    }
    cmd
}

/// Whether the winning plan of `cmd` scans a whole collection.
async fn collection_scan(db: &mongodb::Database, cmd: Document) -> bool {
    let plan = db
        .run_command(doc! { "explain": cmd.clone(), "verbosity": "queryPlanner" })
        .await
        .unwrap_or_else(|e| panic!("explain {cmd}: {e}"));
    let mut found = Vec::new();
    stages(&Bson::Document(plan), &mut found);
    found.iter().any(|s| s == "COLLSCAN")
}

/// The query of a read command, its collection and sort.
fn query_of(cmd: &Document) -> (String, Document, Option<Document>) {
    let name = |k: &str| cmd.get_str(k).ok().map(str::to_string);
    if let Some(coll) = name("find") {
        let sort = cmd.get_document("sort").ok().cloned();
        return (
            coll,
            cmd.get_document("filter").cloned().unwrap_or_default(),
            sort,
        );
    }
    if let Some(coll) = name("aggregate") {
        let first = cmd.get_array("pipeline").ok().and_then(|p| p.first());
        let filter = first
            .and_then(Bson::as_document)
            .and_then(|d| d.get_document("$match").ok())
            .cloned()
            .unwrap_or_default();
        return (coll, filter, None);
    }
    let coll = name("count")
        .or_else(|| name("distinct"))
        .expect("a read command");
    (
        coll,
        cmd.get_document("query").cloned().unwrap_or_default(),
        None,
    )
}

/// The branches of a filter: one per `$or` member (with the filter's other conditions), or the
/// filter itself.
fn branches(filter: &Document) -> Vec<Document> {
    let Ok(ors) = filter.get_array("$or") else {
        return vec![filter.clone()];
    };
    let mut rest = filter.clone();
    rest.remove("$or");
    ors.iter()
        .filter_map(Bson::as_document)
        .map(|b| {
            let mut d = rest.clone();
            d.extend(b.clone());
            d
        })
        .collect()
}

/// Whether every branch of `cmd`'s filter has an index whose leading key it bounds and that,
/// hinted, the server runs without a collection scan.
async fn served_by_a_leading_index(db: &mongodb::Database, cmd: &Document) -> bool {
    use futures_util::TryStreamExt;
    let (coll, filter, sort) = query_of(cmd);
    let indexes: Vec<Document> = db
        .collection::<Document>(&coll)
        .list_indexes()
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.keys)
        .collect();
    for branch in branches(&filter) {
        let mut served = false;
        for keys in &indexes {
            let Some((leading, _)) = keys.iter().next() else {
                continue;
            };
            if leading == "_id" || !branch.contains_key(leading) {
                continue;
            }
            let mut find = doc! { "find": &coll, "filter": branch.clone(), "hint": keys.clone() };
            if let Some(s) = &sort {
                find.insert("sort", s.clone());
            }
            if !collection_scan(db, find).await {
                served = true;
                break;
            }
        }
        if !served {
            return false;
        }
    }
    true
}

/// Runs the hot queries of `layout` and fails on any collection scan.
async fn hot_queries_use_indexes(layout: MessageLayout) {
    let Ok(uri) = std::env::var("SHIKU_TEST_MONGODB_URI") else {
        eprintln!("skipped: set SHIKU_TEST_MONGODB_URI to check the MongoDB query plans");
        return;
    };
    let suffix = shiku_server::domain::util::uuid32()[..8].to_string();
    let cfg = MongoConfig {
        layout,
        ..common::stores::test_databases(&uri, &suffix)
    };
    let seen: Seen = Arc::default();
    let store = observed_store(&cfg, seen.clone()).await;
    shiku_server::fixtures::import(&store, &common::fixtures_dir())
        .await
        .expect("fixtures import");
    store
        .messages
        .enqueue_offline(PEER, "{\"m\":1}", 1)
        .await
        .expect("queued");
    let room = store
        .rooms
        .get_room_by_jid(ROOM_JID)
        .await
        .unwrap()
        .expect("fixture room");
    let room_id = room.id.clone().expect("room id");

    seen.lock().unwrap().clear();
    let history = HistoryQuery {
        owner: OWNER,
        peer: PEER,
        start_ms: Some(0),
        end_ms: Some(i64::MAX),
        max_type: Some(100),
        skip: 0,
        limit: 20,
    };
    assert!(!store.messages.history(&history).await.unwrap().is_empty());
    let jids = store.rooms.room_jids_of(OWNER).await.unwrap();
    assert!(!store
        .messages
        .last_chats(OWNER, &jids, None, None, 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.messages.peek_offline(PEER, 100).await.unwrap().len(),
        1
    );
    let members = MemberQuery {
        room_id: room_id.clone(),
        roles: Vec::new(),
        keyword: None,
        skip: 0,
        limit: 500,
    };
    assert_eq!(store.rooms.query_members(&members).await.unwrap().len(), 3);
    store.rooms.count_members(&members).await.unwrap();
    store.rooms.member_ids(&room_id).await.unwrap();
    let muc = MucQuery {
        jid: ROOM_JID.into(),
        start_ms: Some(0),
        end_ms: Some(i64::MAX),
        max_type: None,
        hidden: store.rooms.hidden_muc(OWNER, ROOM_JID).await.unwrap(),
        skip: 0,
        limit: 20,
    };
    assert!(!store.rooms.muc_history(&muc).await.unwrap().is_empty());
    // The conversation list's check of its room rows against my hidden messages.
    store
        .rooms
        .hidden_among(OWNER, &[(ROOM_JID.to_string(), "m1".to_string())])
        .await
        .unwrap();
    let friends = FriendQuery {
        user_id: OWNER,
        status: None,
        exclude_status: Some(0),
        min_to_user_id: None,
        blacklisted: Some(false),
        keyword: None,
        skip: 0,
        limit: 5000,
    };
    assert!(!store
        .friends
        .query_friends(&friends)
        .await
        .unwrap()
        .is_empty());
    store.friends.count_matching(&friends).await.unwrap();
    store.friends.get_friend(OWNER, PEER).await.unwrap();
    store.users.get_user(OWNER).await.unwrap();

    let commands = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        commands.len() >= 10,
        "the monitor saw {} reads",
        commands.len()
    );
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let mut scans = Vec::new();
    for (db, cmd) in commands {
        let db = client.database(&db);
        let cmd = explainable(cmd);
        if !collection_scan(&db, cmd.clone()).await {
            continue;
        }
        // SecantusDB's planner takes an index only when the index holds every field the
        // filter names; mongod also uses one whose leading key the filter bounds. Such an
        // index, when the server confirms it serves the query, is what mongod would choose.
        if !served_by_a_leading_index(&db, &cmd).await {
            scans.push(format!("{}: {cmd}", db.name()));
        }
    }
    for db in common::stores::database_names(&cfg) {
        client.database(&db).drop().await.unwrap();
    }
    assert!(scans.is_empty(), "collection scans:\n{}", scans.join("\n"));
}

#[tokio::test]
async fn hot_queries_use_indexes_in_the_reference_layout() {
    hot_queries_use_indexes(MessageLayout::Reference).await;
}

#[tokio::test]
async fn hot_queries_use_indexes_in_the_sharded_layout() {
    hot_queries_use_indexes(MessageLayout::Sharded).await;
}
