//! `CompanyController`: companies, departments and employees (spec/reference-server.md 3.6;
//! seed 003 section 6). Ids are 24-hex ObjectIds; a malformed one is answered with 1010101
//! before anything else, as the reference's `ObjectId.isValid` checks do. Every endpoint needs
//! a user token, and only employees of an active company see or change it.

use actix_web::web;
use serde_json::json;

use super::docs::{p, Access, EndpointDoc, ParamDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::org::{self, parse_id, parse_user_ids};
use crate::domain::Error;

/// Largest `pageSize` honoured by `/org/company/list`.
const MAX_PAGE_SIZE: u32 = 1_000;

const COMPANY_ID: ParamDoc = p("companyId", "string", true, "the company's id (24 hex)");
const DEPARTMENT_ID: ParamDoc = p(
    "departmentId",
    "string",
    true,
    "the department's id (24 hex)",
);

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/org/company/create",
        tag: "org",
        summary: "Create a company: root department, 人事部 (with me as creator, role 3), 财务部 and 客服部 (type 6)",
        access: Access::User,
        params: &[
            p("companyName", "string", true, "unique among active companies (else 公司名称已存在)"),
            p("createUserId", "integer", true, "must be me (else 非法调用)"),
        ],
        codes: &[0],
        data: "Company with departments, each with employees (nickname included)",
    },
    EndpointDoc {
        path: "/org/company/getByUserId",
        tag: "org",
        summary: "My active companies with departments and employees",
        access: Access::User,
        params: &[p("userId", "integer", false, "ignored: the token decides")],
        codes: &[],
        data: "array of Company with departments; omitted when I belong to none",
    },
    EndpointDoc {
        path: "/org/company/list",
        tag: "org",
        summary: "A page of my active companies with departments and employees (seed 003)",
        access: Access::User,
        params: &[
            p("pageIndex", "integer", false, "0-based, default 0"),
            p("pageSize", "integer", false, "default 30"),
        ],
        codes: &[],
        data: "array of Company with departments",
    },
    EndpointDoc {
        path: "/org/company/setManager",
        tag: "org",
        summary: "The creator makes employees admins (role 2)",
        access: Access::User,
        params: &[
            COMPANY_ID,
            p("managerId", "string", true, "userIds: JSON array [1,2] or comma list 1,2"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/org/company/managerList",
        tag: "org",
        summary: "The company's admins (role 2)",
        access: Access::User,
        params: &[COMPANY_ID],
        codes: &[0],
        data: "array of Employee",
    },
    EndpointDoc {
        path: "/org/company/modify",
        tag: "org",
        summary: "Rename the company (creator; the root department follows) or else set its notice (admins)",
        access: Access::User,
        params: &[
            COMPANY_ID,
            p("companyName", "string", false, "new name, unique among active companies"),
            p("noticeContent", "string", false, "new notice (stamps noticeTime)"),
        ],
        codes: &[0],
        data: "Company (without departments)",
    },
    EndpointDoc {
        path: "/org/company/delete",
        tag: "org",
        summary: "The creator deletes the company (soft: deleteUserId, deleteTime)",
        access: Access::User,
        params: &[COMPANY_ID, p("userId", "integer", false, "ignored: the token decides")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/org/company/employees",
        tag: "org",
        summary: "Every employee of the company",
        access: Access::User,
        params: &[COMPANY_ID],
        codes: &[0],
        data: "array of Employee",
    },
    EndpointDoc {
        path: "/org/company/get",
        tag: "org",
        summary: "The company (without departments)",
        access: Access::User,
        params: &[COMPANY_ID],
        codes: &[0],
        data: "Company",
    },
    EndpointDoc {
        path: "/org/company/quit",
        tag: "org",
        summary: "Leave the company; the creator leaving deletes it (soft)",
        access: Access::User,
        params: &[COMPANY_ID, p("userId", "integer", true, "must be me (else 非法调用)")],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/org/department/create",
        tag: "org",
        summary: "Admins add a department (type 0) under a department of the company or the company itself",
        access: Access::User,
        params: &[
            COMPANY_ID,
            p("parentId", "string", true, "parent department id, or the company id"),
            p("departName", "string", true, "unique within the company (else 部门名称重复)"),
            p("createUserId", "integer", true, "must be me (else 非法调用)"),
        ],
        codes: &[0],
        data: "Department",
    },
    EndpointDoc {
        path: "/org/department/modify",
        tag: "org",
        summary: "Admins rename a department (not types 1/4/5)",
        access: Access::User,
        params: &[
            DEPARTMENT_ID,
            p("dpartmentName", "string", true, "new name (sic; departName is accepted too)"),
        ],
        codes: &[0],
        data: "Department",
    },
    EndpointDoc {
        path: "/org/department/delete",
        tag: "org",
        summary: "Admins delete a department with its employees (not types 1/4/5, not with sub-departments or the creator)",
        access: Access::User,
        params: &[DEPARTMENT_ID],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/org/department/list",
        tag: "org",
        summary: "The company's departments, each with its employees",
        access: Access::User,
        params: &[COMPANY_ID],
        codes: &[0],
        data: "array of Department with employees",
    },
    EndpointDoc {
        path: "/org/department/get",
        tag: "org",
        summary: "One department",
        access: Access::User,
        params: &[DEPARTMENT_ID],
        codes: &[0],
        data: "Department",
    },
    EndpointDoc {
        path: "/org/departmemt/empList",
        tag: "org",
        summary: "A department's employees (the misspelled path clients call)",
        access: Access::User,
        params: &[DEPARTMENT_ID],
        codes: &[0],
        data: "array of Employee",
    },
    EndpointDoc {
        path: "/org/department/empList",
        tag: "org",
        summary: "A department's employees (correct spelling of /org/departmemt/empList)",
        access: Access::User,
        params: &[DEPARTMENT_ID],
        codes: &[0],
        data: "array of Employee",
    },
    EndpointDoc {
        path: "/org/employee/add",
        tag: "org",
        summary: "An employee adds users to a department (role 0, position 员工); any user already in the company refuses the call",
        access: Access::User,
        params: &[
            p("userId", "string", true, "userIds: JSON array [1,2] or comma list 1,2"),
            COMPANY_ID,
            DEPARTMENT_ID,
            p("role", "integer", false, "ignored (new employees get role 0, as in the reference)"),
        ],
        codes: &[0, 1040101],
        data: "array of Employee: the department's employees",
    },
    EndpointDoc {
        path: "/org/employee/delete",
        tag: "org",
        summary: "Admins remove users from a department (never the creator)",
        access: Access::User,
        params: &[
            p("userIds", "string", true, "userIds: JSON array [1,2], comma list or one id"),
            DEPARTMENT_ID,
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/org/employee/modifyDpart",
        tag: "org",
        summary: "Admins move an employee to another department of the company",
        access: Access::User,
        params: &[
            p("userId", "integer", true, "the employee"),
            COMPANY_ID,
            p("newDepartmentId", "string", true, "the department (24 hex)"),
        ],
        codes: &[0],
        data: "Employee",
    },
    EndpointDoc {
        path: "/org/employee/modifyRole",
        tag: "org",
        summary: "Admins set an employee's role (0, 1 or 2; not the creator's)",
        access: Access::User,
        params: &[
            p("userId", "integer", true, "the employee"),
            COMPANY_ID,
            p("role", "integer", true, "0 employee, 1 department manager, 2 admin"),
        ],
        codes: &[0],
        data: "Employee",
    },
    EndpointDoc {
        path: "/org/employee/modifyPosition",
        tag: "org",
        summary: "Set my own position (title) in the company",
        access: Access::User,
        params: &[
            COMPANY_ID,
            p("position", "string", true, "the title"),
            p("userId", "integer", false, "ignored: the token decides"),
        ],
        codes: &[0],
        data: "Employee",
    },
    EndpointDoc {
        path: "/org/employee/get",
        tag: "org",
        summary: "One employee document, for employees of its company (seed 003)",
        access: Access::User,
        params: &[p("employeeId", "string", true, "the employee document's id (24 hex)")],
        codes: &[0],
        data: "Employee",
    },
    EndpointDoc {
        path: "/org/employee/role",
        tag: "org",
        summary: "A user's role in the company",
        access: Access::User,
        params: &[COMPANY_ID, p("userId", "integer", true, "the user")],
        codes: &[0],
        data: "integer role: 0, 1, 2, 3, or -1 when not an employee",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/org/company/create", company_create);
    r.add("/org/company/getByUserId", company_get_by_user);
    r.add("/org/company/list", company_list);
    r.add("/org/company/setManager", company_set_manager);
    r.add("/org/company/managerList", company_manager_list);
    r.add("/org/company/modify", company_modify);
    r.add("/org/company/delete", company_delete);
    r.add("/org/company/employees", company_employees);
    r.add("/org/company/get", company_get);
    r.add("/org/company/quit", company_quit);
    r.add("/org/department/create", department_create);
    r.add("/org/department/modify", department_modify);
    r.add("/org/department/delete", department_delete);
    r.add("/org/department/list", department_list);
    r.add("/org/department/get", department_get);
    r.add("/org/departmemt/empList", department_emp_list);
    r.add("/org/department/empList", department_emp_list);
    r.add("/org/employee/add", employee_add);
    r.add("/org/employee/delete", employee_delete);
    r.add("/org/employee/modifyDpart", employee_modify_dpart);
    r.add("/org/employee/modifyRole", employee_modify_role);
    r.add("/org/employee/modifyPosition", employee_modify_position);
    r.add("/org/employee/get", employee_get);
    r.add("/org/employee/role", employee_role);
}

/// A required 24-hex id parameter.
fn id_param(p: &Params, name: &str) -> Result<String, Error> {
    parse_id(name, p.required(name)?)
}

async fn company_create(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let name = p.required("companyName")?;
    let creator = p.required_i32("createUserId")?;
    Ok(Reply::data(
        org::create_company(&state.ctx, me, name, creator).await?,
    ))
}

async fn company_get_by_user(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    Ok(match org::companies_of(&state.ctx, me).await? {
        Some(v) => Reply::data(v),
        None => Reply::ok(),
    })
}

async fn company_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let page = p.page(30, MAX_PAGE_SIZE)?;
    Ok(Reply::data(
        org::list_companies(&state.ctx, me, page).await?,
    ))
}

async fn company_set_manager(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    let ids = parse_user_ids("managerId", p.required("managerId")?)?;
    org::set_managers(&state.ctx, me, &company, &ids).await?;
    Ok(Reply::ok())
}

async fn company_manager_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    Ok(Reply::data(org::managers(&state.ctx, me, &company).await?))
}

async fn company_modify(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    Ok(Reply::data(
        org::modify_company(
            &state.ctx,
            me,
            &company,
            p.str("companyName"),
            p.str("noticeContent"),
        )
        .await?,
    ))
}

async fn company_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    org::delete_company(&state.ctx, me, &company).await?;
    Ok(Reply::ok())
}

async fn company_employees(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    Ok(Reply::data(
        org::company_employees(&state.ctx, me, &company).await?,
    ))
}

async fn company_get(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    Ok(Reply::data(
        org::get_company(&state.ctx, me, &company).await?,
    ))
}

async fn company_quit(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    let user = p.required_i32("userId")?;
    org::quit(&state.ctx, me, &company, user).await?;
    Ok(Reply::ok())
}

async fn department_create(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    let parent = id_param(&p, "parentId")?;
    let name = p.required("departName")?;
    let creator = p.required_i32("createUserId")?;
    Ok(Reply::data(
        org::create_department(&state.ctx, me, &company, &parent, name, creator).await?,
    ))
}

async fn department_modify(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let dept = id_param(&p, "departmentId")?;
    let name = p
        .str("dpartmentName")
        .or_else(|| p.str("departName"))
        .ok_or_else(|| Error::missing("dpartmentName"))?;
    Ok(Reply::data(
        org::modify_department(&state.ctx, me, &dept, name).await?,
    ))
}

async fn department_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let dept = id_param(&p, "departmentId")?;
    org::delete_department(&state.ctx, me, &dept).await?;
    Ok(Reply::ok())
}

async fn department_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    Ok(Reply::data(
        org::list_departments(&state.ctx, me, &company).await?,
    ))
}

async fn department_get(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let dept = id_param(&p, "departmentId")?;
    Ok(Reply::data(
        org::get_department(&state.ctx, me, &dept).await?,
    ))
}

async fn department_emp_list(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let dept = id_param(&p, "departmentId")?;
    Ok(Reply::data(
        org::department_employees(&state.ctx, me, &dept).await?,
    ))
}

async fn employee_add(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let users = parse_user_ids("userId", p.required("userId")?)?;
    let company = id_param(&p, "companyId")?;
    let dept = id_param(&p, "departmentId")?;
    Ok(Reply::data(
        org::add_employees(&state.ctx, me, &company, &dept, &users).await?,
    ))
}

async fn employee_delete(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let users = parse_user_ids("userIds", p.required("userIds")?)?;
    let dept = id_param(&p, "departmentId")?;
    org::delete_employees(&state.ctx, me, &dept, &users).await?;
    Ok(Reply::ok())
}

async fn employee_modify_dpart(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let user = p.required_i32("userId")?;
    let company = id_param(&p, "companyId")?;
    let dept = id_param(&p, "newDepartmentId")?;
    Ok(Reply::data(
        org::move_employee(&state.ctx, me, &company, user, &dept).await?,
    ))
}

async fn employee_modify_role(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let user = p.required_i32("userId")?;
    let company = id_param(&p, "companyId")?;
    let role = p.required_i32("role")?;
    Ok(Reply::data(
        org::set_role(&state.ctx, me, &company, user, role).await?,
    ))
}

async fn employee_modify_position(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    let position = p
        .get("position")
        .ok_or_else(|| Error::missing("position"))?;
    Ok(Reply::data(
        org::set_position(&state.ctx, me, &company, position).await?,
    ))
}

async fn employee_get(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let id = id_param(&p, "employeeId")?;
    Ok(Reply::data(org::get_employee(&state.ctx, me, &id).await?))
}

async fn employee_role(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let company = id_param(&p, "companyId")?;
    let user = p.required_i32("userId")?;
    Ok(Reply::data(json!(
        org::role_of(&state.ctx, me, &company, user).await?
    )))
}
