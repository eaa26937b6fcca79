//! Storage ports (one trait per aggregate) and the two adapters.
//!
//! The domain talks only to these traits. `sqlite` is the embedded default; `mongo` reads and
//! writes an existing Shiku MongoDB in the reference's database, collection and document shapes.

pub mod console;
pub mod courses;
pub mod error;
pub mod favourites;
pub mod files;
pub mod friends;
pub mod menus;
pub mod messages;
pub mod meta;
pub mod mongo;
pub mod org;
pub mod patch;
pub mod relations;
pub mod reports;
pub mod rooms;
pub mod sessions;
pub mod shared;
pub mod sqlite;
pub mod users;

use std::sync::Arc;

pub use console::{ChatLogQuery, ConsoleStore, ConsoleUserQuery, RoomLogQuery};
pub use courses::CourseStore;
pub use error::{StoreError, StoreResult};
pub use favourites::FavouriteStore;
pub use files::FileStore;
pub use friends::{FriendQuery, FriendStore};
pub use menus::MenuStore;
pub use messages::{ChatWrite, HistoryQuery, MessageStore, OfflineEntry, OfflineItem};
pub use meta::MetaStore;
pub use org::OrgStore;
pub use patch::{Patch, Val};
pub use reports::{ReportQuery, ReportStore};
pub use rooms::{MemberQuery, MucQuery, RoomQuery, RoomStore};
pub use sessions::{SessionEntry, SessionStore};
pub use shared::{Made, Shared};
pub use users::{NearbyQuery, UserQuery, UserStore};

/// The handle the app shares: one adapter behind every port.
#[derive(Clone)]
pub struct Store {
    pub users: Arc<dyn UserStore>,
    pub friends: Arc<dyn FriendStore>,
    pub meta: Arc<dyn MetaStore>,
    pub messages: Arc<dyn MessageStore>,
    pub rooms: Arc<dyn RoomStore>,
    /// Cross-user queries, admin roles, sessions and statistics of the admin console.
    pub console: Arc<dyn ConsoleStore>,
    /// Companies, departments and employees.
    pub org: Arc<dyn OrgStore>,
    /// Upload records (`resources`).
    pub files: Arc<dyn FileStore>,
    /// Users' favourites (`emoji`).
    pub favourites: Arc<dyn FavouriteStore>,
    /// Users' courses (`course`).
    pub courses: Arc<dyn CourseStore>,
    /// Reports of users and rooms (`Report`).
    pub reports: Arc<dyn ReportStore>,
    /// Public accounts' menus (`menu`).
    pub menus: Arc<dyn MenuStore>,
    /// The session directory several nodes share (MongoDB only; `None` on the embedded store).
    pub sessions: Option<Arc<dyn SessionStore>>,
    /// Human description for the start-up log line (`sqlite:/path` or `mongodb:host/db`).
    pub description: String,
}

impl Store {
    /// Builds the handle from one adapter implementing every port.
    pub fn from_adapter<A>(adapter: Arc<A>, description: String) -> Store
    where
        A: UserStore
            + FriendStore
            + MetaStore
            + MessageStore
            + RoomStore
            + FileStore
            + FavouriteStore
            + CourseStore
            + ReportStore
            + MenuStore
            + OrgStore
            + ConsoleStore
            + 'static,
    {
        Store {
            users: adapter.clone(),
            friends: Arc::new(relations::CachedRelations::new(adapter.clone())),
            messages: adapter.clone(),
            rooms: adapter.clone(),
            console: adapter.clone(),
            org: adapter.clone(),
            files: adapter.clone(),
            favourites: adapter.clone(),
            courses: adapter.clone(),
            reports: adapter.clone(),
            menus: adapter.clone(),
            meta: adapter,
            sessions: None,
            description,
        }
    }

    /// The same handle with a shared session directory (a store several nodes can share).
    pub fn with_sessions(mut self, sessions: Arc<dyn SessionStore>) -> Store {
        self.sessions = Some(sessions);
        self
    }
}
