//! The Shiku documents: the shapes the reference stores in its MongoDB collections (and our
//! SQLite tables keep as JSON), with the lenient decoding real databases need
//! (spec/reference-server.md section 4).
//!
//! Field names and JSON/BSON types follow the Java entities so that both stores keep the
//! reference shape. Numeric fields are read leniently because real Shiku databases hold the
//! same field as int32, int64, double or string depending on the writer's generation. Below
//! both the store and the domain: it imports nothing of the crate.

pub mod course;
pub mod emoji;
pub mod files;
pub mod friends;
pub mod lenient;
pub mod menu;
pub mod messages;
pub mod org;
pub mod report;
pub mod rooms;
pub mod users;

pub use course::{Course, CourseMessage};
pub use emoji::{Emoji, FAVOURITE_KINDS, STICKER};
pub use files::{Resource, RESOURCE_LOCAL};
pub use friends::{Friend, NewFriend};
pub use menu::Menu;
pub use messages::{BodyOnce, LastChat, MsgRow, StickDialog};
pub use org::{Company, Department, Employee};
pub use report::Report;
pub use rooms::{Member, MucRow, Notice, Room, Share};
pub use users::{
    DeviceInfo, Loc, LoginKeys, LoginLog, User, UserLoginLog, UserName, UserRole, UserSettings,
};
