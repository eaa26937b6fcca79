//! The store adapters the store suites run against: the embedded one in a fresh directory, and
//! MongoDB in throw-away databases when `SHIKU_TEST_MONGODB_URI` names a server.

use std::sync::Arc;

use shiku_server::config::{MessageLayout, MongoConfig};
use shiku_server::store::mongo::MongoStore;
use shiku_server::store::sqlite::SqliteStore;
use shiku_server::store::Store;

/// An embedded store in a fresh directory (removed when the guard drops).
pub fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_in(dir.path());
    (store, dir)
}

/// An embedded store on `dir` (to reopen one).
pub fn sqlite_in(dir: &std::path::Path) -> Store {
    let s = SqliteStore::open(dir).unwrap();
    let d = s.description();
    Store::from_adapter(Arc::new(s), d)
}

/// The throw-away databases of a MongoDB store: API, room, message, then the sharded layout's
/// message and conversation databases.
pub struct MongoDbs {
    pub client: mongodb::Client,
    pub names: Vec<String>,
}

impl MongoDbs {
    /// Drops every database of the store.
    pub async fn drop_all(self) {
        for db in self.names {
            self.client.database(&db).drop().await.unwrap();
        }
    }
}

/// Throw-away databases on `uri`, named with `suffix` (reference layout).
pub fn test_databases(uri: &str, suffix: &str) -> MongoConfig {
    MongoConfig {
        uri: uri.to_string(),
        api_db: format!("shiku_test_api_{suffix}"),
        room_db: format!("shiku_test_room_{suffix}"),
        message_db: format!("shiku_test_msg_{suffix}"),
        layout: MessageLayout::Reference,
        sharded_msgs_db: format!("shiku_test_msgs_{suffix}"),
        sharded_last_chats_db: format!("shiku_test_last_{suffix}"),
    }
}

/// Every database a store on `cfg` may write.
pub fn database_names(cfg: &MongoConfig) -> Vec<String> {
    vec![
        cfg.api_db.clone(),
        cfg.room_db.clone(),
        cfg.message_db.clone(),
        cfg.sharded_msgs_db.clone(),
        cfg.sharded_last_chats_db.clone(),
    ]
}

/// A MongoDB store with this message layout in fresh databases, or None without
/// `SHIKU_TEST_MONGODB_URI` (the `suite` then says it was skipped).
pub async fn mongo(suite: &str, layout: MessageLayout) -> Option<(Store, MongoDbs)> {
    let Ok(uri) = std::env::var("SHIKU_TEST_MONGODB_URI") else {
        eprintln!("skipped: set SHIKU_TEST_MONGODB_URI to run the {suite} against MongoDB");
        return None;
    };
    let suffix = shiku_server::domain::util::uuid32()[..8].to_string();
    let cfg = MongoConfig {
        layout,
        ..test_databases(&uri, &suffix)
    };
    let s = MongoStore::connect(&cfg).await.expect("MongoDB reachable");
    let d = s.description();
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let names = database_names(&cfg);
    Some((
        Store::from_adapter(Arc::new(s), d),
        MongoDbs { client, names },
    ))
}

/// The MongoDB databases a black-box server on `data_dir` uses when `SHIKU_TEST_STORE=mongodb`
/// (fresh ones at `SHIKU_TEST_MONGODB_URI`, `SHIKU_TEST_MONGODB_LAYOUT=sharded` for seed 002's
/// message layout), or None for the embedded store. The names follow the data dir, so a server
/// restarted on the same dir finds its data.
pub fn chosen(data_dir: &std::path::Path) -> Option<MongoConfig> {
    match std::env::var("SHIKU_TEST_STORE").as_deref() {
        Ok("mongodb") => {}
        Ok("sqlite") | Err(_) => return None,
        Ok(other) => panic!("SHIKU_TEST_STORE={other}: expected sqlite or mongodb"),
    }
    let uri = std::env::var("SHIKU_TEST_MONGODB_URI")
        .expect("SHIKU_TEST_STORE=mongodb needs SHIKU_TEST_MONGODB_URI");
    let layout = match std::env::var("SHIKU_TEST_MONGODB_LAYOUT").as_deref() {
        Ok("sharded") => MessageLayout::Sharded,
        Ok("reference") | Err(_) => MessageLayout::Reference,
        Ok(other) => panic!("SHIKU_TEST_MONGODB_LAYOUT={other}: expected reference or sharded"),
    };
    let dir = data_dir.to_string_lossy();
    let suffix = shiku_server::domain::util::md5_hex(&dir)[..12].to_string();
    Some(MongoConfig {
        layout,
        ..test_databases(&uri, &suffix)
    })
}

/// Puts a spawned server on the store [`chosen`] for its data dir. The databases are dropped
/// with the returned guard when the data dir is the harness's `own_dir`; a test that gave its
/// own dir (to restart a server on it) keeps them, like the dir, until it ends.
pub fn choose(
    config: &mut shiku_server::config::Config,
    own_dir: &std::path::Path,
) -> Option<Dropped> {
    let mongo = chosen(&config.data_dir)?;
    let dropped = (config.data_dir == own_dir).then(|| Dropped {
        uri: mongo.uri.clone(),
        names: database_names(&mongo),
    });
    config.store = shiku_server::config::StoreKind::Mongodb;
    config.mongodb = mongo;
    dropped
}

/// The `SHIKU_*` variables that put a server binary started on `data_dir` on the store
/// [`chosen`] for it (none for the embedded store); [`databases`] drops them afterwards.
pub fn child_env(data_dir: &std::path::Path) -> Vec<(&'static str, String)> {
    chosen(data_dir).map(|m| mongo_env(&m)).unwrap_or_default()
}

/// The `SHIKU_*` variables that put a server binary on the MongoDB databases `m`.
pub fn mongo_env(m: &MongoConfig) -> Vec<(&'static str, String)> {
    let layout = match m.layout {
        MessageLayout::Reference => "reference",
        MessageLayout::Sharded => "sharded",
    };
    vec![
        ("SHIKU_STORE", "mongodb".to_string()),
        ("SHIKU_MONGODB__URI", m.uri.clone()),
        ("SHIKU_MONGODB__API_DB", m.api_db.clone()),
        ("SHIKU_MONGODB__ROOM_DB", m.room_db.clone()),
        ("SHIKU_MONGODB__MESSAGE_DB", m.message_db.clone()),
        ("SHIKU_MONGODB__LAYOUT", layout.to_string()),
        ("SHIKU_MONGODB__SHARDED_MSGS_DB", m.sharded_msgs_db.clone()),
        (
            "SHIKU_MONGODB__SHARDED_LAST_CHATS_DB",
            m.sharded_last_chats_db.clone(),
        ),
    ]
}

/// The guard dropping the databases of `m`.
pub fn dropping(m: &MongoConfig) -> Dropped {
    Dropped {
        names: database_names(m),
        uri: m.uri.clone(),
    }
}

/// The guard dropping the databases [`chosen`] for `data_dir`, if any.
pub fn databases(data_dir: &std::path::Path) -> Option<Dropped> {
    chosen(data_dir).map(|m| dropping(&m))
}

/// Databases dropped when this is (on a thread of its own: drops run inside the tests' runtime).
#[derive(Debug)]
pub struct Dropped {
    uri: String,
    names: Vec<String>,
}

impl Drop for Dropped {
    fn drop(&mut self) {
        let (uri, names) = (self.uri.clone(), std::mem::take(&mut self.names));
        let dropping = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
                for db in names {
                    // A server still winding down may recreate one; the test server is
                    // throw-away, so a leftover costs nothing but space.
                    let _ = client.database(&db).drop().await;
                }
            });
        });
        let _ = dropping.join();
    }
}
