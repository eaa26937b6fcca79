//! `shiku-server import DIR`: loads Shiku documents (one JSON array per reference collection,
//! file name = collection name) into the configured store through the same ports the server
//! uses. Existing users are left alone; so are existing rooms (by jid), their members and group
//! messages (by messageId).
//!
//! Rooms come from `shiku_room.json`, their members from `shiku_room_member.json` (added with
//! `add_members`, which also counts `userSize`: a room's stored `userSize` is the number of its
//! imported members, whatever the document said) and each room's group history from
//! `mucmsg_<jid>.json`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::documents::{
    Friend, LastChat, Member, MsgRow, MucRow, Room, User, UserLoginLog, UserRole,
};
use crate::store::{ChatWrite, Store, StoreError};

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub users: usize,
    pub users_skipped: usize,
    pub login_logs: usize,
    pub roles: usize,
    pub friends: usize,
    pub messages: usize,
    pub last_chats: usize,
    /// Rooms inserted (rooms whose jid already exists are left alone and not counted).
    pub rooms: usize,
    /// Memberships added (existing ones are skipped).
    pub members: usize,
    /// Group messages stored (ones whose messageId the room already has are skipped).
    pub muc_messages: usize,
    /// Rooms the store gave another id than the document's `_id`: (document id, stored id).
    /// Empty while the store keeps a provided id; members are filed under the stored id either
    /// way.
    pub room_ids_changed: Vec<(String, String)>,
    /// Companies inserted from `company.json` (with their departments and employees); a
    /// company whose id or active name already exists is left alone and not counted.
    pub companies: usize,
    /// Departments inserted with those companies.
    pub departments: usize,
    /// Employees inserted with those companies.
    pub employees: usize,
}

type ImportResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn read<T: DeserializeOwned>(dir: &Path, collection: &str) -> ImportResult<Vec<T>> {
    let path = dir.join(format!("{collection}.json"));
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path)?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Imports every known collection file found in `dir`.
pub async fn import(store: &Store, dir: &Path) -> ImportResult<ImportReport> {
    let mut report = ImportReport::default();
    for u in read::<User>(dir, "user")? {
        match store.users.insert_user(&u).await {
            Ok(()) => report.users += 1,
            Err(StoreError::Duplicate(_)) => report.users_skipped += 1,
            Err(e) => return Err(e.into()),
        }
    }
    for l in read::<UserLoginLog>(dir, "userLoginLog")? {
        store.users.put_login_log(&l).await?;
        report.login_logs += 1;
    }
    for r in read::<UserRole>(dir, "userRoles")? {
        let existing = store.users.roles_of(r.user_id).await?;
        if !existing.iter().any(|e| e.role == r.role) {
            store.users.insert_role(&r).await?;
            report.roles += 1;
        }
    }
    for f in read::<Friend>(dir, "u_friends")? {
        store.friends.put_friend(&f).await?;
        report.friends += 1;
    }
    for row in read::<MsgRow>(dir, "shiku_msgs")? {
        let write = ChatWrite {
            rows: vec![row],
            last_chats: Vec::new(),
            offline: None,
        };
        if store.messages.store_chat(&write).await? {
            report.messages += 1;
        }
    }
    for mut row in read::<LastChat>(dir, "shiku_lastChats")? {
        // Rows written by the Java server have no `ts`: order them by their `timeSend`.
        if row.ts == 0 {
            row.ts = crate::domain::messages::time_send_millis(&row.time_send);
        }
        store.messages.upsert_last_chat(&row).await?;
        report.last_chats += 1;
    }
    import_rooms(store, dir, &mut report).await?;
    import_org(store, dir, &mut report).await?;
    Ok(report)
}

/// `mucmsg_<jid>.json` files of `dir`, by jid.
fn muc_files(dir: &Path) -> ImportResult<BTreeMap<String, std::path::PathBuf>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(jid) = name
            .strip_prefix("mucmsg_")
            .and_then(|n| n.strip_suffix(".json"))
        {
            out.insert(jid.to_string(), path.clone());
        }
    }
    Ok(out)
}

async fn import_rooms(store: &Store, dir: &Path, report: &mut ImportReport) -> ImportResult<()> {
    // Document room id -> stored room id.
    let mut ids = HashMap::new();
    for mut room in read::<Room>(dir, "shiku_room")? {
        let doc_id = room.id.clone();
        // `add_members` counts the members in.
        room.user_size = 0;
        let stored = match store.rooms.insert_room(&room).await {
            Ok(id) => {
                report.rooms += 1;
                if let Some(doc_id) = doc_id.as_ref().filter(|d| **d != id) {
                    report.room_ids_changed.push((doc_id.clone(), id.clone()));
                }
                id
            }
            Err(StoreError::Duplicate(_)) => store
                .rooms
                .get_room_by_jid(&room.jid)
                .await?
                .and_then(|r| r.id)
                .ok_or_else(|| format!("room {}: duplicate but not found", room.jid))?,
            Err(e) => return Err(e.into()),
        };
        if let Some(doc_id) = doc_id {
            ids.insert(doc_id, stored);
        }
    }
    // Members grouped by room, in file order.
    let mut by_room: Vec<(String, Vec<Member>)> = Vec::new();
    for m in read::<Member>(dir, "shiku_room_member")? {
        let doc_room = m.room_id.clone().unwrap_or_default();
        let room_id = ids.get(&doc_room).cloned().unwrap_or(doc_room);
        match by_room.iter_mut().find(|(r, _)| *r == room_id) {
            Some((_, list)) => list.push(m),
            None => by_room.push((room_id, vec![m])),
        }
    }
    for (room_id, list) in by_room {
        if store.rooms.get_room(&room_id).await?.is_none() {
            return Err(format!("shiku_room_member: no room {room_id}").into());
        }
        report.members += store.rooms.add_members(&room_id, &list).await?.len();
    }
    for (jid, path) in muc_files(dir)? {
        let text = std::fs::read_to_string(&path)?;
        let rows: Vec<MucRow> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for row in rows {
            if store.rooms.store_muc(&jid, &row).await? {
                report.muc_messages += 1;
            }
        }
    }
    Ok(())
}

/// Companies from `company.json`, each with the documents of `department.json` and
/// `employee.json` that name it, inserted as one tree through `OrgStore::create_company` (ids
/// kept; `empNum` counted from the employees imported, whatever the documents said).
async fn import_org(store: &Store, dir: &Path, report: &mut ImportReport) -> ImportResult<()> {
    use crate::documents::{Company, Department, Employee};
    let departments = read::<Department>(dir, "department")?;
    let employees = read::<Employee>(dir, "employee")?;
    for company in read::<Company>(dir, "company")? {
        let Some(id) = company.id.clone() else {
            return Err("company.json: a company without _id".into());
        };
        let depts: Vec<Department> = departments
            .iter()
            .filter(|d| d.company_id.as_deref() == Some(id.as_str()))
            .cloned()
            .collect();
        let emps: Vec<Employee> = employees
            .iter()
            .filter(|e| e.company_id.as_deref() == Some(id.as_str()))
            .cloned()
            .collect();
        if store.org.get_company(&id).await?.is_some() {
            continue;
        }
        match store.org.create_company(&company, &depts, &emps).await {
            Ok(()) => {
                report.companies += 1;
                report.departments += depts.len();
                report.employees += emps.len();
            }
            Err(StoreError::Duplicate(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
