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

/// A MongoDB store with this message layout in fresh databases, or None without
/// `SHIKU_TEST_MONGODB_URI` (the `suite` then says it was skipped).
pub async fn mongo(suite: &str, layout: MessageLayout) -> Option<(Store, MongoDbs)> {
    let Ok(uri) = std::env::var("SHIKU_TEST_MONGODB_URI") else {
        eprintln!("skipped: set SHIKU_TEST_MONGODB_URI to run the {suite} against MongoDB");
        return None;
    };
    let suffix = shiku_server::domain::util::uuid32()[..8].to_string();
    let cfg = MongoConfig {
        uri: uri.clone(),
        api_db: format!("shiku_test_api_{suffix}"),
        room_db: format!("shiku_test_room_{suffix}"),
        message_db: format!("shiku_test_msg_{suffix}"),
        layout,
    };
    let sharded = (
        format!("shiku_test_msgs_{suffix}"),
        format!("shiku_test_last_{suffix}"),
    );
    let s = MongoStore::connect(&cfg)
        .await
        .expect("MongoDB reachable")
        .with_sharded_databases(&sharded.0, &sharded.1);
    let d = s.description();
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let names = vec![
        cfg.api_db,
        cfg.room_db,
        cfg.message_db,
        sharded.0,
        sharded.1,
    ];
    Some((
        Store::from_adapter(Arc::new(s), d),
        MongoDbs { client, names },
    ))
}
