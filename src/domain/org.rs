//! Organisation: companies, their department tree and employees (spec/reference-server.md 3.6,
//! 4.5; seed 003 section 6).
//!
//! Roles: 0 employee, 1 department manager (unused), 2 company admin, 3 creator. A caller's
//! role in a company is its employee document's `role`, or -1 when it has none or the company
//! is missing or (soft-)deleted, so nobody outside an active company reads or changes it.
//! Unlike the reference, changing an employee's department, role or position writes only that
//! field (the Java update reset `role`, `chatNum` and `isPause` as well).

use std::collections::{BTreeSet, HashMap};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};

use super::util::now_secs;
use super::view::Page;
use super::{Code, Ctx, Error, Result};
use crate::documents::{Company, Department, Employee};
use crate::store::{Patch, StoreError};

/// Plain employee.
pub const ROLE_EMPLOYEE: i32 = 0;
/// Department manager (defined by the reference, never assigned by it).
pub const ROLE_DEPARTMENT_MANAGER: i32 = 1;
/// Company admin.
pub const ROLE_ADMIN: i32 = 2;
/// The company's creator.
pub const ROLE_CREATOR: i32 = 3;

/// Department types.
pub const DEPT_NORMAL: i32 = 0;
/// The root department (named after the company).
pub const DEPT_ROOT: i32 = 1;
/// Customer-service department made with every company.
pub const DEPT_CUSTOMER_SERVICE: i32 = 6;
/// Types that cannot be renamed or deleted: root, demo department, default-join department.
pub const PROTECTED_DEPT_TYPES: [i32; 3] = [1, 4, 5];

/// Position text of a new employee and of the creator.
pub const POSITION_EMPLOYEE: &str = "员工";
/// Position text of the creator.
pub const POSITION_CREATOR: &str = "创建者";

/// Answer to a caller outside the company (reference text).
pub const NOT_EMPLOYEE: &str = "权限不足,非本公司员工";
/// Answer to an employee below the required role (reference text).
pub const NO_PERMISSION: &str = "权限不足";

/// Concurrent nickname look-ups when a view names many employees.
const PARALLEL_LOOKUPS: usize = 32;

/// A fresh ObjectId hex for a new document.
pub fn new_id() -> String {
    mongodb::bson::oid::ObjectId::new().to_hex()
}

/// A `companyId`/`departmentId`-style parameter: a 24-hex ObjectId, else 1010101 (the
/// reference's `ObjectId.isValid` check).
pub fn parse_id(name: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.len() == 24 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(Error::invalid(
            name,
            "应为 24 位十六进制 id (expected a 24-hex id)",
        ))
    }
}

/// A list of userIds as clients send it: a JSON array (`[1,2]`, web) or a comma list (`1,2`,
/// Android/iOS). Repeats are dropped; anything else is 1010101.
pub fn parse_user_ids(name: &str, text: &str) -> Result<Vec<i32>> {
    let bad = || {
        Error::invalid(
            name,
            "应为 userId 的 JSON 数组或逗号分隔列表, 如 [100102,100174]",
        )
    };
    let t = text.trim();
    let raw: Vec<Value> = if t.starts_with('[') {
        serde_json::from_str(t).map_err(|_| bad())?
    } else {
        t.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_string()))
            .collect()
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for item in raw {
        let id = match &item {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .and_then(|v| i32::try_from(v).ok())
        .filter(|v| *v > 0)
        .ok_or_else(bad)?;
        if seen.insert(id) {
            out.push(id);
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// The client view of a company (fastjson: alphabetical, nulls omitted), optionally with its
/// departments.
pub fn company_view(c: &Company, departments: Option<Vec<Value>>) -> Value {
    let mut m = Map::new();
    m.insert("companyName".into(), json!(c.company_name));
    m.insert("createTime".into(), json!(c.create_time));
    m.insert("createUserId".into(), json!(c.create_user_id));
    m.insert("deleteTime".into(), json!(c.delete_time));
    m.insert("deleteUserId".into(), json!(c.delete_user_id));
    if let Some(d) = departments {
        m.insert("departments".into(), Value::Array(d));
    }
    m.insert("empNum".into(), json!(c.emp_num));
    m.insert("id".into(), json!(c.id));
    m.insert("noticeContent".into(), json!(c.notice_content));
    m.insert("noticeTime".into(), json!(c.notice_time));
    m.insert("rootDpartId".into(), json!(c.root_dpart_id));
    m.insert("type".into(), json!(c.kind));
    Value::Object(m)
}

/// The client view of a department, optionally with its employees.
pub fn department_view(d: &Department, employees: Option<Vec<Value>>) -> Value {
    let mut m = Map::new();
    m.insert("companyId".into(), json!(d.company_id));
    m.insert("createTime".into(), json!(d.create_time));
    m.insert("createUserId".into(), json!(d.create_user_id));
    m.insert("departName".into(), json!(d.depart_name));
    m.insert("empNum".into(), json!(d.emp_num));
    if let Some(e) = employees {
        m.insert("employees".into(), Value::Array(e));
    }
    m.insert("id".into(), json!(d.id));
    if let Some(p) = &d.parent_id {
        m.insert("parentId".into(), json!(p));
    }
    m.insert("type".into(), json!(d.kind));
    Value::Object(m)
}

/// The client view of an employee with the user's nickname.
pub fn employee_view(e: &Employee, nickname: &str) -> Value {
    let extra_int = |k: &str| e.extra.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut m = Map::new();
    m.insert("chatNum".into(), json!(e.chat_num));
    m.insert("companyId".into(), json!(e.company_id));
    m.insert("departmentId".into(), json!(e.department_id));
    m.insert("id".into(), json!(e.id));
    m.insert("isCustomer".into(), json!(extra_int("isCustomer")));
    m.insert("isPause".into(), json!(e.is_pause));
    m.insert("nickname".into(), json!(nickname));
    m.insert("operationType".into(), json!(extra_int("operationType")));
    m.insert("position".into(), json!(e.position));
    m.insert("role".into(), json!(e.role));
    m.insert("userId".into(), json!(e.user_id));
    Value::Object(m)
}

/// Views of employees with their users' nicknames ("" for a user that no longer exists).
async fn employee_views(ctx: &Ctx, employees: &[Employee]) -> Result<Vec<Value>> {
    let ids: BTreeSet<i32> = employees.iter().map(|e| e.user_id).collect();
    let names: HashMap<i32, String> = stream::iter(ids)
        .map(|id| async move {
            let user = ctx.profiles.get(&ctx.store, id).await?;
            Ok::<_, StoreError>((id, user.map(|u| u.nickname.clone()).unwrap_or_default()))
        })
        .buffer_unordered(PARALLEL_LOOKUPS)
        .try_collect()
        .await?;
    Ok(employees
        .iter()
        .map(|e| employee_view(e, names.get(&e.user_id).map_or("", String::as_str)))
        .collect())
}

/// Departments of a company with their employees (one read of each collection).
async fn department_tree(ctx: &Ctx, company_id: &str) -> Result<Vec<Value>> {
    let departments = ctx.store.org.departments_of(company_id).await?;
    let employees = ctx.store.org.employees_of_company(company_id, None).await?;
    let views = employee_views(ctx, &employees).await?;
    let mut by_dept: HashMap<&str, Vec<Value>> = HashMap::new();
    for (e, v) in employees.iter().zip(views) {
        if let Some(d) = e.department_id.as_deref() {
            by_dept.entry(d).or_default().push(v);
        }
    }
    Ok(departments
        .iter()
        .map(|d| {
            let emps =
                d.id.as_deref()
                    .and_then(|id| by_dept.remove(id))
                    .unwrap_or_default();
            department_view(d, Some(emps))
        })
        .collect())
}

/// An active company (None when missing or soft-deleted).
async fn active_company(ctx: &Ctx, company_id: &str) -> Result<Option<Company>> {
    Ok(ctx
        .store
        .org
        .get_company(company_id)
        .await?
        .filter(|c| c.delete_user_id == 0))
}

/// The caller's role in an active company; -1 when not an employee (or no such company).
pub async fn role_in(ctx: &Ctx, company_id: &str, user_id: i32) -> Result<i32> {
    if active_company(ctx, company_id).await?.is_none() {
        return Ok(-1);
    }
    Ok(ctx
        .store
        .org
        .get_employee(company_id, user_id)
        .await?
        .map_or(-1, |e| e.role))
}

/// The active company, when `me` has at least role `min` in it; else `msg`.
async fn require(ctx: &Ctx, company_id: &str, me: i32, min: i32, msg: &str) -> Result<Company> {
    let company = active_company(ctx, company_id).await?;
    let role = match &company {
        Some(_) => ctx
            .store
            .org
            .get_employee(company_id, me)
            .await?
            .map_or(-1, |e| e.role),
        None => -1,
    };
    match company {
        Some(c) if role >= min => Ok(c),
        _ => Err(Error::failure(msg)),
    }
}

/// The department and its active company, when `me` has at least role `min` there; else `msg`
/// (a missing department answers like an outsider: it reveals nothing).
async fn require_dept(
    ctx: &Ctx,
    department_id: &str,
    me: i32,
    min: i32,
    msg: &str,
) -> Result<(Department, Company)> {
    let Some(dept) = ctx.store.org.get_department(department_id).await? else {
        return Err(Error::failure(msg));
    };
    let company_id = dept.company_id.clone().unwrap_or_default();
    let company = require(ctx, &company_id, me, min, msg).await?;
    Ok((dept, company))
}

/// The nickname of one user ("" when gone).
async fn nickname(ctx: &Ctx, user_id: i32) -> Result<String> {
    Ok(ctx
        .profiles
        .get(&ctx.store, user_id)
        .await?
        .map(|u| u.nickname.clone())
        .unwrap_or_default())
}

/// `/org/company/create`: the company, its root department, 人事部 (with the creator, role 3),
/// 财务部 and 客服部 (type 6); the company with its departments and their employees.
pub async fn create_company(ctx: &Ctx, me: i32, name: &str, create_user_id: i32) -> Result<Value> {
    if create_user_id <= 0 {
        return Err(Error::failure("创建失败"));
    }
    // The reference trusts createUserId; only the caller may be made creator.
    if create_user_id != me {
        return Err(Error::failure("非法调用"));
    }
    let now = now_secs();
    let company_id = new_id();
    let root_id = new_id();
    let company = Company {
        id: Some(company_id.clone()),
        company_name: name.to_string(),
        create_user_id: me,
        root_dpart_id: vec![root_id.clone()],
        create_time: now,
        emp_num: 1,
        ..Company::default()
    };
    let dept = |id: String, parent: Option<&str>, name: &str, kind: i32| Department {
        id: Some(id),
        company_id: Some(company_id.clone()),
        parent_id: parent.map(str::to_string),
        depart_name: name.to_string(),
        create_user_id: me,
        create_time: now,
        emp_num: 0,
        kind,
        extra: Map::new(),
    };
    let personnel_id = new_id();
    let departments = vec![
        dept(root_id.clone(), None, name, DEPT_ROOT),
        dept(personnel_id.clone(), Some(&root_id), "人事部", DEPT_NORMAL),
        dept(new_id(), Some(&root_id), "财务部", DEPT_NORMAL),
        dept(new_id(), Some(&root_id), "客服部", DEPT_CUSTOMER_SERVICE),
    ];
    let creator = Employee {
        id: Some(new_id()),
        user_id: me,
        department_id: Some(personnel_id),
        company_id: Some(company_id.clone()),
        role: ROLE_CREATOR,
        position: POSITION_CREATOR.into(),
        ..Employee::default()
    };
    match ctx
        .store
        .org
        .create_company(&company, &departments, &[creator])
        .await
    {
        Ok(()) => {}
        Err(StoreError::Duplicate(_)) => return Err(Error::failure("公司名称已存在")),
        Err(e) => return Err(e.into()),
    }
    let stored = ctx
        .store
        .org
        .get_company(&company_id)
        .await?
        .ok_or_else(|| Error::Internal("company vanished after insert".into()))?;
    let tree = department_tree(ctx, &company_id).await?;
    Ok(company_view(&stored, Some(tree)))
}

/// My active companies with their department trees, in the order I joined them.
async fn my_companies(ctx: &Ctx, me: i32) -> Result<Vec<Company>> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for e in ctx.store.org.employments_of(me).await? {
        let Some(cid) = e.company_id else { continue };
        if !seen.insert(cid.clone()) {
            continue;
        }
        if let Some(c) = active_company(ctx, &cid).await? {
            out.push(c);
        }
    }
    Ok(out)
}

async fn with_trees(ctx: &Ctx, companies: &[Company]) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for c in companies {
        let tree = department_tree(ctx, c.id.as_deref().unwrap_or_default()).await?;
        out.push(company_view(c, Some(tree)));
    }
    Ok(out)
}

/// `/org/company/getByUserId`: my active companies with departments and employees; None when
/// I have none (the reference then answers without `data`).
pub async fn companies_of(ctx: &Ctx, me: i32) -> Result<Option<Value>> {
    let companies = my_companies(ctx, me).await?;
    if companies.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Array(with_trees(ctx, &companies).await?)))
}

/// `/org/company/list` (seed 003; commented out in the reference, which listed every company):
/// a page of my own active companies with their trees, so nobody sees another company.
pub async fn list_companies(ctx: &Ctx, me: i32, page: Page) -> Result<Value> {
    let companies = my_companies(ctx, me).await?;
    let slice: Vec<Company> = companies
        .into_iter()
        .skip(usize::try_from(page.skip()).unwrap_or(usize::MAX))
        .take(page.size as usize)
        .collect();
    Ok(Value::Array(with_trees(ctx, &slice).await?))
}

/// `/org/company/setManager`: the creator makes these employees admins (role 2). Users who are
/// not employees, and the creator, are left as they are.
pub async fn set_managers(ctx: &Ctx, me: i32, company_id: &str, user_ids: &[i32]) -> Result<()> {
    require(ctx, company_id, me, ROLE_CREATOR, "需要创建者权限").await?;
    for &uid in user_ids {
        let Some(e) = ctx.store.org.get_employee(company_id, uid).await? else {
            continue;
        };
        if e.role == ROLE_CREATOR {
            continue;
        }
        ctx.store
            .org
            .update_employee(company_id, uid, &Patch::new().set("role", ROLE_ADMIN))
            .await?;
    }
    Ok(())
}

/// `/org/company/managerList`: the company's admins (role 2), for its employees.
pub async fn managers(ctx: &Ctx, me: i32, company_id: &str) -> Result<Value> {
    require(ctx, company_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    let list = ctx
        .store
        .org
        .employees_of_company(company_id, Some(ROLE_ADMIN))
        .await?;
    Ok(Value::Array(employee_views(ctx, &list).await?))
}

/// `/org/company/modify`: a new name (creator; the root department follows) or else a new
/// notice (admins and creator; stamps `noticeTime`). Returns the company.
pub async fn modify_company(
    ctx: &Ctx,
    me: i32,
    company_id: &str,
    name: Option<&str>,
    notice: Option<&str>,
) -> Result<Value> {
    let company = if let Some(name) = name {
        let c = require(ctx, company_id, me, ROLE_CREATOR, "公司创建者才能修改名称").await?;
        if c.company_name == name {
            c
        } else {
            match ctx.store.org.rename_company(company_id, name).await {
                Ok(Some(c)) => c,
                Ok(None) => return Err(Error::failure(NOT_EMPLOYEE)),
                Err(StoreError::Duplicate(_)) => return Err(Error::failure("公司名称已存在")),
                Err(e) => return Err(e.into()),
            }
        }
    } else if let Some(notice) = notice {
        require(
            ctx,
            company_id,
            me,
            ROLE_ADMIN,
            "需要管理员以上权限才能修改公告",
        )
        .await?;
        let patch = Patch::new()
            .set("noticeContent", notice)
            .set("noticeTime", now_secs());
        ctx.store
            .org
            .update_company(company_id, &patch)
            .await?
            .ok_or_else(|| Error::failure(NOT_EMPLOYEE))?
    } else {
        require(ctx, company_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?
    };
    Ok(company_view(&company, None))
}

/// `/org/company/delete`: the creator hides the company (`deleteUserId`, `deleteTime`).
pub async fn delete_company(ctx: &Ctx, me: i32, company_id: &str) -> Result<()> {
    require(ctx, company_id, me, ROLE_CREATOR, "只有创建者才能删除").await?;
    soft_delete(ctx, company_id, me).await
}

async fn soft_delete(ctx: &Ctx, company_id: &str, me: i32) -> Result<()> {
    let patch = Patch::new()
        .set("deleteUserId", me)
        .set("deleteTime", now_secs());
    ctx.store.org.update_company(company_id, &patch).await?;
    Ok(())
}

/// `/org/company/employees`: every employee of the company, for its employees.
pub async fn company_employees(ctx: &Ctx, me: i32, company_id: &str) -> Result<Value> {
    require(ctx, company_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    let list = ctx.store.org.employees_of_company(company_id, None).await?;
    Ok(Value::Array(employee_views(ctx, &list).await?))
}

/// `/org/company/get`: the company (without departments), for its employees.
pub async fn get_company(ctx: &Ctx, me: i32, company_id: &str) -> Result<Value> {
    let c = require(ctx, company_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    Ok(company_view(&c, None))
}

/// `/org/company/quit`: I leave the company; the creator leaving deletes it (softly). Only the
/// caller can be made to quit (the reference let any employee remove anyone).
pub async fn quit(ctx: &Ctx, me: i32, company_id: &str, user_id: i32) -> Result<()> {
    require(ctx, company_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    if user_id != me {
        return Err(Error::failure("非法调用"));
    }
    if role_in(ctx, company_id, me).await? == ROLE_CREATOR {
        return soft_delete(ctx, company_id, me).await;
    }
    ctx.store
        .org
        .remove_employees(company_id, None, &[me])
        .await?;
    Ok(())
}

/// `/org/department/create`: admins add a department under a department of the company (or
/// under the company itself, as seed 003 allows for top-level departments).
pub async fn create_department(
    ctx: &Ctx,
    me: i32,
    company_id: &str,
    parent_id: &str,
    name: &str,
    create_user_id: i32,
) -> Result<Value> {
    if create_user_id != me {
        return Err(Error::failure("非法调用"));
    }
    require(ctx, company_id, me, ROLE_ADMIN, "需要公司管理员及以上权限").await?;
    if parent_id != company_id {
        let parent = ctx.store.org.get_department(parent_id).await?;
        if parent.and_then(|p| p.company_id).as_deref() != Some(company_id) {
            return Err(Error::failure("上级部门不存在"));
        }
    }
    let id = new_id();
    let d = Department {
        id: Some(id.clone()),
        company_id: Some(company_id.to_string()),
        parent_id: Some(parent_id.to_string()),
        depart_name: name.to_string(),
        create_user_id: me,
        create_time: now_secs(),
        emp_num: 0,
        kind: DEPT_NORMAL,
        extra: Map::new(),
    };
    match ctx.store.org.insert_department(&d).await {
        Ok(()) => {}
        Err(StoreError::Duplicate(_)) => return Err(Error::failure("部门名称重复")),
        Err(e) => return Err(e.into()),
    }
    let stored = ctx.store.org.get_department(&id).await?.unwrap_or(d);
    Ok(department_view(&stored, None))
}

/// `/org/department/modify`: admins rename a department (not root/demo ones).
pub async fn modify_department(
    ctx: &Ctx,
    me: i32,
    department_id: &str,
    name: &str,
) -> Result<Value> {
    let (dept, _) = require_dept(ctx, department_id, me, ROLE_ADMIN, NO_PERMISSION).await?;
    if PROTECTED_DEPT_TYPES.contains(&dept.kind) {
        return Err(Error::failure("没有相关权限，不能更改"));
    }
    if dept.depart_name == name {
        return Ok(department_view(&dept, None));
    }
    match ctx.store.org.rename_department(department_id, name).await {
        Ok(Some(d)) => Ok(department_view(&d, None)),
        Ok(None) => Err(Error::failure(NO_PERMISSION)),
        Err(StoreError::Duplicate(_)) => Err(Error::failure("部门名称重复")),
        Err(e) => Err(e.into()),
    }
}

/// `/org/department/delete`: admins delete a department with its employees. Protected types
/// cannot be deleted, nor (unlike the reference, which left orphans behind) a department that
/// has sub-departments or holds the creator.
pub async fn delete_department(ctx: &Ctx, me: i32, department_id: &str) -> Result<()> {
    let (dept, company) = require_dept(ctx, department_id, me, ROLE_ADMIN, NO_PERMISSION).await?;
    let refuse = || Error::failure("该部门不能删除");
    if PROTECTED_DEPT_TYPES.contains(&dept.kind) {
        return Err(refuse());
    }
    let company_id = company.id.as_deref().unwrap_or_default();
    let has_children = ctx
        .store
        .org
        .departments_of(company_id)
        .await?
        .iter()
        .any(|d| d.parent_id.as_deref() == Some(department_id));
    let holds_creator = ctx
        .store
        .org
        .employees_of_department(department_id)
        .await?
        .iter()
        .any(|e| e.role == ROLE_CREATOR);
    if has_children || holds_creator {
        return Err(refuse());
    }
    ctx.store.org.delete_department(department_id).await?;
    Ok(())
}

/// `/org/department/list`: the company's departments with their employees.
pub async fn list_departments(ctx: &Ctx, me: i32, company_id: &str) -> Result<Value> {
    require(ctx, company_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    Ok(Value::Array(department_tree(ctx, company_id).await?))
}

/// `/org/department/get`: one department.
pub async fn get_department(ctx: &Ctx, me: i32, department_id: &str) -> Result<Value> {
    let (d, _) = require_dept(ctx, department_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    Ok(department_view(&d, None))
}

/// `/org/departmemt/empList`: a department's employees.
pub async fn department_employees(ctx: &Ctx, me: i32, department_id: &str) -> Result<Value> {
    require_dept(ctx, department_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    let list = ctx.store.org.employees_of_department(department_id).await?;
    Ok(Value::Array(employee_views(ctx, &list).await?))
}

/// `/org/employee/add`: an employee adds users to a department of the company (role 0,
/// position 员工); any user already in the company refuses the whole call. Returns the
/// department's employees.
pub async fn add_employees(
    ctx: &Ctx,
    me: i32,
    company_id: &str,
    department_id: &str,
    user_ids: &[i32],
) -> Result<Value> {
    require(ctx, company_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    let dept = ctx.store.org.get_department(department_id).await?;
    if dept.and_then(|d| d.company_id).as_deref() != Some(company_id) {
        return Err(Error::failure("部门不存在"));
    }
    for &uid in user_ids {
        if ctx.profiles.get(&ctx.store, uid).await?.is_none() {
            return Err(Error::Code(Code::AccountNotExist));
        }
        if ctx.store.org.get_employee(company_id, uid).await?.is_some() {
            return Err(Error::failure("不能重复添加"));
        }
    }
    let new: Vec<Employee> = user_ids
        .iter()
        .map(|&uid| Employee {
            id: Some(new_id()),
            user_id: uid,
            department_id: Some(department_id.to_string()),
            company_id: Some(company_id.to_string()),
            role: ROLE_EMPLOYEE,
            position: POSITION_EMPLOYEE.into(),
            ..Employee::default()
        })
        .collect();
    let added = ctx
        .store
        .org
        .add_employees(company_id, department_id, &new)
        .await?;
    // A concurrent call added one of them first: the same refusal as when we saw it.
    if added.len() != new.len() {
        let lost: Vec<i32> = user_ids
            .iter()
            .copied()
            .filter(|u| !added.contains(u))
            .collect();
        tracing::debug!(?lost, "employee/add raced with another add");
        if added.is_empty() {
            return Err(Error::failure("不能重复添加"));
        }
    }
    let list = ctx.store.org.employees_of_department(department_id).await?;
    Ok(Value::Array(employee_views(ctx, &list).await?))
}

/// `/org/employee/delete`: admins remove users from a department (the creator cannot be
/// removed); `empNum` falls by the number actually removed.
pub async fn delete_employees(
    ctx: &Ctx,
    me: i32,
    department_id: &str,
    user_ids: &[i32],
) -> Result<()> {
    let (_, company) = require_dept(ctx, department_id, me, ROLE_ADMIN, NO_PERMISSION).await?;
    if user_ids.contains(&company.create_user_id) {
        return Err(Error::failure("不能删除创建者"));
    }
    let company_id = company.id.as_deref().unwrap_or_default();
    for &uid in user_ids {
        if let Some(e) = ctx.store.org.get_employee(company_id, uid).await? {
            if e.role == ROLE_CREATOR {
                return Err(Error::failure("不能删除创建者"));
            }
        }
    }
    ctx.store
        .org
        .remove_employees(company_id, Some(department_id), user_ids)
        .await?;
    Ok(())
}

/// An employee of the company, or the failure naming the missing one.
async fn employee_of(ctx: &Ctx, company_id: &str, user_id: i32) -> Result<Employee> {
    ctx.store
        .org
        .get_employee(company_id, user_id)
        .await?
        .ok_or_else(|| Error::failure("该用户不是本公司员工"))
}

/// `/org/employee/modifyDpart`: admins move an employee to another department of the company.
pub async fn move_employee(
    ctx: &Ctx,
    me: i32,
    company_id: &str,
    user_id: i32,
    new_department_id: &str,
) -> Result<Value> {
    require(ctx, company_id, me, ROLE_ADMIN, NO_PERMISSION).await?;
    employee_of(ctx, company_id, user_id).await?;
    let dept = ctx.store.org.get_department(new_department_id).await?;
    if dept.and_then(|d| d.company_id).as_deref() != Some(company_id) {
        return Err(Error::failure("部门不存在"));
    }
    let e = ctx
        .store
        .org
        .move_employee(company_id, user_id, new_department_id)
        .await?
        .ok_or_else(|| Error::failure("该用户不是本公司员工"))?;
    Ok(employee_view(&e, &nickname(ctx, user_id).await?))
}

/// `/org/employee/modifyRole`: admins set an employee's role to 0, 1 or 2. The creator's role
/// is not changed and nobody is made creator.
pub async fn set_role(
    ctx: &Ctx,
    me: i32,
    company_id: &str,
    user_id: i32,
    role: i32,
) -> Result<Value> {
    if !(ROLE_EMPLOYEE..=ROLE_ADMIN).contains(&role) {
        return Err(Error::invalid("role", "应为 0、1 或 2"));
    }
    require(ctx, company_id, me, ROLE_ADMIN, NO_PERMISSION).await?;
    let e = employee_of(ctx, company_id, user_id).await?;
    if e.role == ROLE_CREATOR {
        return Err(Error::failure("不能修改创建者的角色"));
    }
    let e = ctx
        .store
        .org
        .update_employee(company_id, user_id, &Patch::new().set("role", role))
        .await?
        .ok_or_else(|| Error::failure("该用户不是本公司员工"))?;
    Ok(employee_view(&e, &nickname(ctx, user_id).await?))
}

/// `/org/employee/modifyPosition`: I set my own position (title).
pub async fn set_position(ctx: &Ctx, me: i32, company_id: &str, position: &str) -> Result<Value> {
    require(ctx, company_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    let e = ctx
        .store
        .org
        .update_employee(company_id, me, &Patch::new().set("position", position))
        .await?
        .ok_or_else(|| Error::failure(NOT_EMPLOYEE))?;
    Ok(employee_view(&e, &nickname(ctx, me).await?))
}

/// `/org/employee/get` (seed 003): one employee document, for employees of its company.
pub async fn get_employee(ctx: &Ctx, me: i32, employee_id: &str) -> Result<Value> {
    let Some(e) = ctx.store.org.get_employee_by_id(employee_id).await? else {
        return Err(Error::failure(NOT_EMPLOYEE));
    };
    let company_id = e.company_id.clone().unwrap_or_default();
    require(ctx, &company_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    Ok(employee_view(&e, &nickname(ctx, e.user_id).await?))
}

/// `/org/employee/role`: a user's role in the company (-1 when not an employee).
pub async fn role_of(ctx: &Ctx, me: i32, company_id: &str, user_id: i32) -> Result<i32> {
    require(ctx, company_id, me, ROLE_EMPLOYEE, NOT_EMPLOYEE).await?;
    Ok(ctx
        .store
        .org
        .get_employee(company_id, user_id)
        .await?
        .map_or(-1, |e| e.role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_24_hex() {
        assert_eq!(
            parse_id("companyId", "60210278CB36D459FE88C196").unwrap(),
            "60210278cb36d459fe88c196"
        );
        for bad in [
            "",
            "abc",
            "60210278cb36d459fe88c19g",
            "60210278cb36d459fe88c1966",
        ] {
            assert_eq!(parse_id("companyId", bad).unwrap_err().code(), 1010101);
        }
    }

    #[test]
    fn user_id_lists_in_both_forms() {
        assert_eq!(parse_user_ids("u", "[1,2,\"3\",2]").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_user_ids("u", "4, 5,,4").unwrap(), vec![4, 5]);
        assert_eq!(parse_user_ids("u", "7").unwrap(), vec![7]);
        for bad in ["", "[]", "[1,", "a,b", "[0]", "-3", "[1.5]", "99999999999"] {
            assert_eq!(
                parse_user_ids("u", bad).unwrap_err().code(),
                1010101,
                "{bad}"
            );
        }
    }

    #[test]
    fn documents_read_reference_shapes() {
        let c: Company = serde_json::from_value(json!({
            "_id": {"$oid": "5c8f3f0d1b2a3c4d5e6f7a8b"}, "companyName": "X",
            "createUserId": 10000002, "deleteUserId": 0,
            "rootDpartId": [{"$oid": "5c8f3f0d1b2a3c4d5e6f7a8c"}],
            "createTime": 1552891661, "deleteTime": 0, "noticeContent": "",
            "noticeTime": 0, "empNum": 3.0, "type": 0, "outRelaId": "x"
        }))
        .unwrap();
        assert_eq!(c.id.as_deref(), Some("5c8f3f0d1b2a3c4d5e6f7a8b"));
        assert_eq!(c.root_dpart_id, vec!["5c8f3f0d1b2a3c4d5e6f7a8c"]);
        assert_eq!(c.emp_num, 3);
        assert_eq!(c.extra.get("outRelaId"), Some(&json!("x")));
        let v = company_view(&c, None);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "fastjson order");
        assert_eq!(v["id"], "5c8f3f0d1b2a3c4d5e6f7a8b");
        let d: Department = serde_json::from_value(json!({
            "_id": "5c8f3f0d1b2a3c4d5e6f7a8c", "companyId": "5c8f3f0d1b2a3c4d5e6f7a8b",
            "parentId": null, "departName": "X", "type": 1
        }))
        .unwrap();
        assert!(department_view(&d, None).get("parentId").is_none());
        let e: Employee = serde_json::from_value(json!({
            "userId": 5, "role": 3, "position": "创建者", "operationType": 1
        }))
        .unwrap();
        let v = employee_view(&e, "n");
        assert_eq!(v["operationType"], 1);
        assert_eq!(v["isCustomer"], 0);
        assert_eq!(v["nickname"], "n");
    }
}
