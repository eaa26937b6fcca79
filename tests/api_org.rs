//! Organisation over HTTP: every `/org/*` endpoint with its role rules and Chinese refusals,
//! bad ids (1010101), both id-list forms, outsiders refused everywhere, `empNum` under
//! concurrent adds and deletes, the fix of the reference's reset-on-modify bug, soft delete, and
//! a 1,000-employee tree in 50 departments.

mod common;

use std::time::Instant;

use serde_json::{json, Value};
use shiku_server::documents::User;

use common::{ok, refused, user, TestApp, TestUser as U};

async fn call(app: &TestApp, path: &str, me: &U, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", me.token.as_str()), ("flag", "rw")];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

fn bad_param(v: &Value) {
    assert_eq!(v["resultCode"], 1010101, "{v}");
}

fn str_of(v: &Value) -> String {
    v.as_str().expect("string").to_string()
}

/// The department named `name` in a department list.
fn dept<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|d| d["departName"] == name)
        .unwrap_or_else(|| panic!("no department {name} in {list}"))
}

fn user_ids(list: &Value) -> Vec<i64> {
    let mut v: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["userId"].as_i64().unwrap())
        .collect();
    v.sort();
    v
}

/// Creates a company as `me`; returns its view.
async fn company(app: &TestApp, me: &U, name: &str) -> Value {
    let v = call(
        app,
        "/org/company/create",
        me,
        &[("companyName", name), ("createUserId", &me.sid())],
    )
    .await;
    ok(&v).clone()
}

/// The company's empNum and each department's (name, empNum), after checking both equal the
/// employees listed.
async fn assert_counts(app: &TestApp, me: &U, company_id: &str) -> i64 {
    let c = call(app, "/org/company/get", me, &[("companyId", company_id)]).await;
    let emp_num = ok(&c)["empNum"].as_i64().unwrap();
    let all = call(
        app,
        "/org/company/employees",
        me,
        &[("companyId", company_id)],
    )
    .await;
    assert_eq!(
        emp_num as usize,
        ok(&all).as_array().unwrap().len(),
        "company empNum"
    );
    let depts = call(
        app,
        "/org/department/list",
        me,
        &[("companyId", company_id)],
    )
    .await;
    for d in ok(&depts).as_array().unwrap() {
        assert_eq!(
            d["empNum"].as_i64().unwrap() as usize,
            d["employees"].as_array().unwrap().len(),
            "empNum of {}",
            d["departName"]
        );
    }
    emp_num
}

#[tokio::test]
async fn company_tree_roles_and_errors() {
    let app = common::spawn().await;
    let a = user(&app, "13900000001", "创始人").await;
    let b = user(&app, "13900000002", "管理员").await;
    let c = user(&app, "13900000003", "员工").await;
    let d = user(&app, "13900000004", "外人").await;
    let e = user(&app, "13900000005", "新人").await;

    // Create: root, 人事部 (with the creator), 财务部, 客服部, as the reference does.
    let co = company(&app, &a, "示例公司").await;
    let cid = str_of(&co["id"]);
    assert_eq!(co["companyName"], "示例公司");
    assert_eq!(co["createUserId"], a.id);
    assert_eq!(co["empNum"], 1);
    assert_eq!(
        (co["deleteUserId"].clone(), co["type"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(co["noticeContent"], "");
    let depts = &co["departments"];
    assert_eq!(depts.as_array().unwrap().len(), 4);
    let root = dept(depts, "示例公司");
    let root_id = str_of(&root["id"]);
    assert_eq!(co["rootDpartId"], json!([root_id]));
    assert_eq!(root["type"], 1);
    assert!(root.get("parentId").is_none(), "root has no parent: {root}");
    let hr = dept(depts, "人事部");
    let hr_id = str_of(&hr["id"]);
    assert_eq!(
        (hr["type"].clone(), hr["empNum"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(hr["parentId"], root_id);
    let boss = &hr["employees"][0];
    assert_eq!(boss["userId"], a.id);
    assert_eq!(boss["role"], 3);
    assert_eq!(boss["position"], "创建者");
    assert_eq!(boss["nickname"], "创始人");
    assert_eq!(boss["companyId"], cid);
    assert_eq!(boss["departmentId"], hr_id);
    for k in ["chatNum", "isPause", "operationType", "isCustomer"] {
        assert_eq!(boss[k], 0, "{k}");
    }
    let fin_id = str_of(&dept(depts, "财务部")["id"]);
    assert_eq!(dept(depts, "财务部")["empNum"], 0);
    assert_eq!(dept(depts, "客服部")["type"], 6);

    // Create refusals.
    refused(
        &call(
            &app,
            "/org/company/create",
            &d,
            &[("companyName", "示例公司"), ("createUserId", &d.sid())],
        )
        .await,
        "公司名称已存在",
    );
    refused(
        &call(
            &app,
            "/org/company/create",
            &d,
            &[("companyName", "X"), ("createUserId", &a.sid())],
        )
        .await,
        "非法调用",
    );
    refused(
        &call(
            &app,
            "/org/company/create",
            &d,
            &[("companyName", "X"), ("createUserId", "0")],
        )
        .await,
        "创建失败",
    );
    bad_param(
        &call(
            &app,
            "/org/company/create",
            &d,
            &[("createUserId", &d.sid())],
        )
        .await,
    );
    bad_param(
        &call(
            &app,
            "/org/company/create",
            &d,
            &[("companyName", "X"), ("createUserId", "abc")],
        )
        .await,
    );
    // No token at all.
    let v = app
        .post(
            "/org/company/create",
            &[("companyName", "X"), ("createUserId", "1")],
        )
        .await;
    assert_eq!(v["resultCode"], 1030101, "{v}");

    // getByUserId: mine with the tree; none → no data.
    let mine = call(&app, "/org/company/getByUserId", &a, &[]).await;
    assert_eq!(ok(&mine)[0]["id"], cid);
    assert_eq!(ok(&mine)[0]["departments"].as_array().unwrap().len(), 4);
    let none = call(
        &app,
        "/org/company/getByUserId",
        &d,
        &[("userId", &a.sid())],
    )
    .await;
    assert_eq!(none["resultCode"], 1);
    assert!(none.get("data").is_none(), "{none}");

    // employee/add: JSON array, then comma list; duplicates and strangers refused.
    let list = format!("[{},{}]", b.id, c.id);
    let v = call(
        &app,
        "/org/employee/add",
        &a,
        &[
            ("userId", &list),
            ("companyId", &cid),
            ("departmentId", &fin_id),
        ],
    )
    .await;
    let emps = ok(&v);
    assert_eq!(user_ids(emps), vec![b.id, c.id]);
    assert_eq!(emps[0]["role"], 0);
    assert_eq!(emps[0]["position"], "员工");
    assert_eq!(emps[0]["nickname"], "管理员");
    refused(
        &call(
            &app,
            "/org/employee/add",
            &a,
            &[
                ("userId", &format!("{},{}", e.id, b.id)),
                ("companyId", &cid),
                ("departmentId", &fin_id),
            ],
        )
        .await,
        "不能重复添加",
    );
    let v = call(
        &app,
        "/org/employee/add",
        &c,
        &[
            ("userId", &format!("{},", e.id)),
            ("companyId", &cid),
            ("departmentId", &hr_id),
        ],
    )
    .await;
    assert_eq!(user_ids(ok(&v)), vec![a.id, e.id]);
    let v = call(
        &app,
        "/org/employee/add",
        &a,
        &[
            ("userId", "[99999999]"),
            ("companyId", &cid),
            ("departmentId", &hr_id),
        ],
    )
    .await;
    assert_eq!(v["resultCode"], 1040101, "{v}");
    for bad in ["", "[", "a,b", "[0]", "[\"x\"]"] {
        bad_param(
            &call(
                &app,
                "/org/employee/add",
                &a,
                &[
                    ("userId", bad),
                    ("companyId", &cid),
                    ("departmentId", &hr_id),
                ],
            )
            .await,
        );
    }
    bad_param(
        &call(
            &app,
            "/org/employee/add",
            &a,
            &[
                ("userId", "1"),
                ("companyId", "nope"),
                ("departmentId", &hr_id),
            ],
        )
        .await,
    );
    bad_param(
        &call(
            &app,
            "/org/employee/add",
            &a,
            &[
                ("userId", "1"),
                ("companyId", &cid),
                ("departmentId", "123"),
            ],
        )
        .await,
    );
    assert_eq!(assert_counts(&app, &a, &cid).await, 4);

    // setManager / managerList.
    refused(
        &call(
            &app,
            "/org/company/setManager",
            &b,
            &[("companyId", &cid), ("managerId", &format!("[{}]", c.id))],
        )
        .await,
        "需要创建者权限",
    );
    ok(&call(
        &app,
        "/org/company/setManager",
        &a,
        &[
            ("companyId", &cid),
            ("managerId", &format!("[{},{}]", b.id, a.id)),
        ],
    )
    .await);
    let v = call(&app, "/org/company/managerList", &c, &[("companyId", &cid)]).await;
    assert_eq!(user_ids(ok(&v)), vec![b.id]);
    // The creator stays creator.
    let v = call(
        &app,
        "/org/employee/role",
        &c,
        &[("companyId", &cid), ("userId", &a.sid())],
    )
    .await;
    assert_eq!(ok(&v), &json!(3));
    bad_param(
        &call(
            &app,
            "/org/company/setManager",
            &a,
            &[("companyId", &cid), ("managerId", "[x]")],
        )
        .await,
    );

    // modify: name (creator only, unique, root follows), notice (admins).
    refused(
        &call(
            &app,
            "/org/company/modify",
            &b,
            &[("companyId", &cid), ("companyName", "新名")],
        )
        .await,
        "公司创建者才能修改名称",
    );
    company(&app, &d, "外人公司").await;
    refused(
        &call(
            &app,
            "/org/company/modify",
            &a,
            &[("companyId", &cid), ("companyName", "外人公司")],
        )
        .await,
        "公司名称已存在",
    );
    let v = call(
        &app,
        "/org/company/modify",
        &a,
        &[("companyId", &cid), ("companyName", "新名")],
    )
    .await;
    assert_eq!(ok(&v)["companyName"], "新名");
    assert!(ok(&v).get("departments").is_none());
    let v = call(
        &app,
        "/org/department/get",
        &c,
        &[("departmentId", &root_id)],
    )
    .await;
    assert_eq!(ok(&v)["departName"], "新名");
    refused(
        &call(
            &app,
            "/org/company/modify",
            &c,
            &[("companyId", &cid), ("noticeContent", "公告")],
        )
        .await,
        "需要管理员以上权限才能修改公告",
    );
    let v = call(
        &app,
        "/org/company/modify",
        &b,
        &[("companyId", &cid), ("noticeContent", "公告")],
    )
    .await;
    assert_eq!(ok(&v)["noticeContent"], "公告");
    assert!(ok(&v)["noticeTime"].as_i64().unwrap() > 0);
    assert_eq!(ok(&v)["companyName"], "新名");

    // department/create.
    refused(
        &call(
            &app,
            "/org/department/create",
            &c,
            &[
                ("companyId", &cid),
                ("parentId", &root_id),
                ("departName", "研发部"),
                ("createUserId", &c.sid()),
            ],
        )
        .await,
        "需要公司管理员及以上权限",
    );
    refused(
        &call(
            &app,
            "/org/department/create",
            &b,
            &[
                ("companyId", &cid),
                ("parentId", &root_id),
                ("departName", "研发部"),
                ("createUserId", &a.sid()),
            ],
        )
        .await,
        "非法调用",
    );
    let v = call(
        &app,
        "/org/department/create",
        &b,
        &[
            ("companyId", &cid),
            ("parentId", &root_id),
            ("departName", "研发部"),
            ("createUserId", &b.sid()),
        ],
    )
    .await;
    let rd = ok(&v).clone();
    let rd_id = str_of(&rd["id"]);
    assert_eq!(
        (rd["type"].clone(), rd["empNum"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(rd["parentId"], root_id);
    assert_eq!(rd["companyId"], cid);
    assert_eq!(rd["createUserId"], b.id);
    assert!(rd.get("employees").is_none());
    refused(
        &call(
            &app,
            "/org/department/create",
            &b,
            &[
                ("companyId", &cid),
                ("parentId", &root_id),
                ("departName", "研发部"),
                ("createUserId", &b.sid()),
            ],
        )
        .await,
        "部门名称重复",
    );
    // Parent: a department of another company is refused; the company itself is allowed.
    let other = call(&app, "/org/company/getByUserId", &d, &[]).await;
    let other_root = str_of(&ok(&other)[0]["rootDpartId"][0]);
    refused(
        &call(
            &app,
            "/org/department/create",
            &b,
            &[
                ("companyId", &cid),
                ("parentId", &other_root),
                ("departName", "X"),
                ("createUserId", &b.sid()),
            ],
        )
        .await,
        "上级部门不存在",
    );
    let v = call(
        &app,
        "/org/department/create",
        &b,
        &[
            ("companyId", &cid),
            ("parentId", &cid),
            ("departName", "分部"),
            ("createUserId", &b.sid()),
        ],
    )
    .await;
    let branch_id = str_of(&ok(&v)["id"]);
    bad_param(
        &call(
            &app,
            "/org/department/create",
            &b,
            &[
                ("companyId", &cid),
                ("parentId", "zz"),
                ("departName", "X"),
                ("createUserId", &b.sid()),
            ],
        )
        .await,
    );
    bad_param(
        &call(
            &app,
            "/org/department/create",
            &b,
            &[
                ("companyId", &cid),
                ("parentId", &root_id),
                ("createUserId", &b.sid()),
            ],
        )
        .await,
    );

    // department/modify (sic dpartmentName).
    refused(
        &call(
            &app,
            "/org/department/modify",
            &b,
            &[("departmentId", &root_id), ("dpartmentName", "根")],
        )
        .await,
        "没有相关权限，不能更改",
    );
    refused(
        &call(
            &app,
            "/org/department/modify",
            &b,
            &[("departmentId", &rd_id), ("dpartmentName", "人事部")],
        )
        .await,
        "部门名称重复",
    );
    refused(
        &call(
            &app,
            "/org/department/modify",
            &c,
            &[("departmentId", &rd_id), ("dpartmentName", "技术部")],
        )
        .await,
        "权限不足",
    );
    let v = call(
        &app,
        "/org/department/modify",
        &b,
        &[("departmentId", &rd_id), ("dpartmentName", "技术部")],
    )
    .await;
    assert_eq!(ok(&v)["departName"], "技术部");
    bad_param(
        &call(
            &app,
            "/org/department/modify",
            &b,
            &[("departmentId", &rd_id)],
        )
        .await,
    );

    // modifyDpart: admins only; counts move; the moved admin keeps role 2 (no reset bug).
    refused(
        &call(
            &app,
            "/org/employee/modifyDpart",
            &c,
            &[
                ("userId", &c.sid()),
                ("companyId", &cid),
                ("newDepartmentId", &rd_id),
            ],
        )
        .await,
        "权限不足",
    );
    let v = call(
        &app,
        "/org/employee/modifyDpart",
        &a,
        &[
            ("userId", &b.sid()),
            ("companyId", &cid),
            ("newDepartmentId", &rd_id),
        ],
    )
    .await;
    assert_eq!(ok(&v)["departmentId"], rd_id);
    assert_eq!(ok(&v)["role"], 2);
    assert_eq!(ok(&v)["nickname"], "管理员");
    refused(
        &call(
            &app,
            "/org/employee/modifyDpart",
            &a,
            &[
                ("userId", &b.sid()),
                ("companyId", &cid),
                ("newDepartmentId", &other_root),
            ],
        )
        .await,
        "部门不存在",
    );
    refused(
        &call(
            &app,
            "/org/employee/modifyDpart",
            &a,
            &[
                ("userId", &d.sid()),
                ("companyId", &cid),
                ("newDepartmentId", &rd_id),
            ],
        )
        .await,
        "该用户不是本公司员工",
    );
    bad_param(
        &call(
            &app,
            "/org/employee/modifyDpart",
            &a,
            &[
                ("userId", &b.sid()),
                ("companyId", &cid),
                ("newDepartmentId", "x"),
            ],
        )
        .await,
    );
    assert_eq!(assert_counts(&app, &a, &cid).await, 4);

    // modifyPosition: my own title; the role stays (no reset bug).
    let v = call(
        &app,
        "/org/employee/modifyPosition",
        &b,
        &[
            ("companyId", &cid),
            ("position", "总监"),
            ("userId", &c.sid()),
        ],
    )
    .await;
    assert_eq!(ok(&v)["userId"], b.id);
    assert_eq!(ok(&v)["position"], "总监");
    assert_eq!(ok(&v)["role"], 2);
    bad_param(
        &call(
            &app,
            "/org/employee/modifyPosition",
            &b,
            &[("companyId", &cid)],
        )
        .await,
    );

    // modifyRole.
    refused(
        &call(
            &app,
            "/org/employee/modifyRole",
            &c,
            &[("userId", &e.sid()), ("companyId", &cid), ("role", "2")],
        )
        .await,
        "权限不足",
    );
    refused(
        &call(
            &app,
            "/org/employee/modifyRole",
            &b,
            &[("userId", &a.sid()), ("companyId", &cid), ("role", "0")],
        )
        .await,
        "不能修改创建者的角色",
    );
    bad_param(
        &call(
            &app,
            "/org/employee/modifyRole",
            &b,
            &[("userId", &c.sid()), ("companyId", &cid), ("role", "3")],
        )
        .await,
    );
    bad_param(
        &call(
            &app,
            "/org/employee/modifyRole",
            &b,
            &[("userId", &c.sid()), ("companyId", &cid), ("role", "x")],
        )
        .await,
    );
    let v = call(
        &app,
        "/org/employee/modifyRole",
        &b,
        &[("userId", &c.sid()), ("companyId", &cid), ("role", "2")],
    )
    .await;
    assert_eq!(ok(&v)["role"], 2);
    assert_eq!(ok(&v)["departmentId"], fin_id, "the department stays");
    let v = call(
        &app,
        "/org/employee/modifyRole",
        &b,
        &[("userId", &c.sid()), ("companyId", &cid), ("role", "0")],
    )
    .await;
    assert_eq!(ok(&v)["role"], 0);
    // B's title survived the role changes of others and its own move.
    let v = call(&app, "/org/company/managerList", &a, &[("companyId", &cid)]).await;
    assert_eq!(ok(&v)[0]["position"], "总监");

    // Lists and reads.
    let v = call(&app, "/org/company/employees", &c, &[("companyId", &cid)]).await;
    assert_eq!(user_ids(ok(&v)), vec![a.id, b.id, c.id, e.id]);
    let v = call(&app, "/org/company/get", &c, &[("companyId", &cid)]).await;
    assert_eq!(ok(&v)["id"], cid);
    assert!(ok(&v).get("departments").is_none());
    for path in ["/org/departmemt/empList", "/org/department/empList"] {
        let v = call(&app, path, &c, &[("departmentId", &fin_id)]).await;
        assert_eq!(user_ids(ok(&v)), vec![c.id], "{path}");
    }
    let v = call(&app, "/org/department/list", &c, &[("companyId", &cid)]).await;
    let names: Vec<&str> = ok(&v)
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["departName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["新名", "人事部", "财务部", "客服部", "技术部", "分部"]
    );
    assert_eq!(user_ids(&dept(ok(&v), "技术部")["employees"]), vec![b.id]);
    let v = call(
        &app,
        "/org/department/get",
        &c,
        &[("departmentId", &fin_id)],
    )
    .await;
    assert_eq!(ok(&v)["empNum"], 1);
    let emp_id = str_of(
        &ok(&call(&app, "/org/company/employees", &a, &[("companyId", &cid)]).await)[1]["id"],
    );
    let v = call(&app, "/org/employee/get", &c, &[("employeeId", &emp_id)]).await;
    assert_eq!(ok(&v)["id"], emp_id);
    assert!(ok(&v)["nickname"].is_string());
    bad_param(&call(&app, "/org/employee/get", &c, &[("employeeId", "1")]).await);
    refused(
        &call(
            &app,
            "/org/employee/get",
            &c,
            &[("employeeId", "000000000000000000000000")],
        )
        .await,
        "权限不足,非本公司员工",
    );
    let v = call(
        &app,
        "/org/employee/role",
        &c,
        &[("companyId", &cid), ("userId", &d.sid())],
    )
    .await;
    assert_eq!(ok(&v), &json!(-1));
    let v = call(
        &app,
        "/org/employee/role",
        &c,
        &[("companyId", &cid), ("userId", &b.sid())],
    )
    .await;
    assert_eq!(ok(&v), &json!(2));
    let v = call(
        &app,
        "/org/company/list",
        &a,
        &[("pageIndex", "0"), ("pageSize", "10")],
    )
    .await;
    assert_eq!(ok(&v).as_array().unwrap().len(), 1);
    assert_eq!(ok(&v)[0]["id"], cid);
    let v = call(
        &app,
        "/org/company/list",
        &a,
        &[("pageIndex", "1"), ("pageSize", "10")],
    )
    .await;
    assert_eq!(ok(&v), &json!([]));
    bad_param(&call(&app, "/org/company/list", &a, &[("pageIndex", "-1")]).await);

    // department/delete: protected types, the creator's department, sub-departments, roles.
    refused(
        &call(
            &app,
            "/org/department/delete",
            &b,
            &[("departmentId", &root_id)],
        )
        .await,
        "该部门不能删除",
    );
    refused(
        &call(
            &app,
            "/org/department/delete",
            &b,
            &[("departmentId", &hr_id)],
        )
        .await,
        "该部门不能删除",
    );
    refused(
        &call(
            &app,
            "/org/department/delete",
            &c,
            &[("departmentId", &rd_id)],
        )
        .await,
        "权限不足",
    );
    let v = call(
        &app,
        "/org/department/create",
        &b,
        &[
            ("companyId", &cid),
            ("parentId", &branch_id),
            ("departName", "分部二组"),
            ("createUserId", &b.sid()),
        ],
    )
    .await;
    let sub_id = str_of(&ok(&v)["id"]);
    refused(
        &call(
            &app,
            "/org/department/delete",
            &b,
            &[("departmentId", &branch_id)],
        )
        .await,
        "该部门不能删除",
    );
    ok(&call(
        &app,
        "/org/department/delete",
        &b,
        &[("departmentId", &sub_id)],
    )
    .await);
    ok(&call(
        &app,
        "/org/department/delete",
        &b,
        &[("departmentId", &branch_id)],
    )
    .await);
    // Deleting a department with employees removes them and lowers the company count.
    ok(&call(
        &app,
        "/org/employee/modifyDpart",
        &b,
        &[
            ("userId", &e.sid()),
            ("companyId", &cid),
            ("newDepartmentId", &rd_id),
        ],
    )
    .await);
    ok(&call(
        &app,
        "/org/employee/modifyDpart",
        &a,
        &[
            ("userId", &b.sid()),
            ("companyId", &cid),
            ("newDepartmentId", &fin_id),
        ],
    )
    .await);
    ok(&call(
        &app,
        "/org/department/delete",
        &b,
        &[("departmentId", &rd_id)],
    )
    .await);
    let v = call(
        &app,
        "/org/employee/role",
        &a,
        &[("companyId", &cid), ("userId", &e.sid())],
    )
    .await;
    assert_eq!(ok(&v), &json!(-1));
    assert_eq!(assert_counts(&app, &a, &cid).await, 3);
    refused(
        &call(&app, "/org/department/get", &a, &[("departmentId", &rd_id)]).await,
        "权限不足,非本公司员工",
    );

    // employee/delete: admins, never the creator, single id or list; exact counts.
    refused(
        &call(
            &app,
            "/org/employee/delete",
            &c,
            &[("userIds", &b.sid()), ("departmentId", &fin_id)],
        )
        .await,
        "权限不足",
    );
    refused(
        &call(
            &app,
            "/org/employee/delete",
            &b,
            &[
                ("userIds", &format!("[{}]", a.id)),
                ("departmentId", &hr_id),
            ],
        )
        .await,
        "不能删除创建者",
    );
    bad_param(
        &call(
            &app,
            "/org/employee/delete",
            &b,
            &[("userIds", "x"), ("departmentId", &fin_id)],
        )
        .await,
    );
    // Not in that department: nothing removed.
    ok(&call(
        &app,
        "/org/employee/delete",
        &b,
        &[("userIds", &c.sid()), ("departmentId", &hr_id)],
    )
    .await);
    assert_eq!(assert_counts(&app, &a, &cid).await, 3);
    ok(&call(
        &app,
        "/org/employee/delete",
        &b,
        &[("userIds", &c.sid()), ("departmentId", &fin_id)],
    )
    .await);
    assert_eq!(assert_counts(&app, &a, &cid).await, 2);
    refused(
        &call(&app, "/org/company/get", &c, &[("companyId", &cid)]).await,
        "权限不足,非本公司员工",
    );

    // quit: only myself; an employee leaves, the creator leaving deletes the company.
    ok(&call(
        &app,
        "/org/employee/add",
        &a,
        &[
            ("userId", &c.sid()),
            ("companyId", &cid),
            ("departmentId", &fin_id),
        ],
    )
    .await);
    refused(
        &call(
            &app,
            "/org/company/quit",
            &c,
            &[("companyId", &cid), ("userId", &b.sid())],
        )
        .await,
        "非法调用",
    );
    bad_param(&call(&app, "/org/company/quit", &c, &[("companyId", &cid)]).await);
    ok(&call(
        &app,
        "/org/company/quit",
        &c,
        &[("companyId", &cid), ("userId", &c.sid())],
    )
    .await);
    assert_eq!(assert_counts(&app, &a, &cid).await, 2);
    let v = call(&app, "/org/company/getByUserId", &c, &[]).await;
    assert!(v.get("data").is_none(), "{v}");

    // delete: creator only, soft.
    refused(
        &call(&app, "/org/company/delete", &b, &[("companyId", &cid)]).await,
        "只有创建者才能删除",
    );
    ok(&call(
        &app,
        "/org/company/delete",
        &a,
        &[("companyId", &cid), ("userId", &a.sid())],
    )
    .await);
    for who in [&a, &b] {
        refused(
            &call(&app, "/org/company/get", who, &[("companyId", &cid)]).await,
            "权限不足,非本公司员工",
        );
        let v = call(&app, "/org/company/getByUserId", who, &[]).await;
        assert!(v.get("data").is_none(), "{v}");
    }
    // The stored document keeps who deleted it and when.
    let stored = app.app.store.org.get_company(&cid).await.unwrap().unwrap();
    assert_eq!(stored.delete_user_id as i64, a.id);
    assert!(stored.delete_time > 0);
    // Its name is free again.
    company(&app, &b, "新名").await;

    // The creator quitting deletes the company too.
    let q = company(&app, &c, "将要解散").await;
    let qid = str_of(&q["id"]);
    ok(&call(
        &app,
        "/org/company/quit",
        &c,
        &[("companyId", &qid), ("userId", &c.sid())],
    )
    .await);
    refused(
        &call(&app, "/org/company/get", &c, &[("companyId", &qid)]).await,
        "权限不足,非本公司员工",
    );
}

/// An endpoint, its parameters and the refusal an outsider gets.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

/// Every endpoint refuses a caller outside the company (and answers bad ids with 1010101).
#[tokio::test]
async fn outsiders_are_refused_everywhere() {
    let app = common::spawn().await;
    let a = user(&app, "13910000001", "甲").await;
    let x = user(&app, "13910000002", "乙").await;
    let co = company(&app, &a, "甲公司").await;
    let cid = str_of(&co["id"]);
    let hr = str_of(&dept(&co["departments"], "人事部")["id"]);
    let fin = str_of(&dept(&co["departments"], "财务部")["id"]);
    let emp_id = str_of(&dept(&co["departments"], "人事部")["employees"][0]["id"]);
    let (xs, as_) = (x.sid(), a.sid());
    let xlist = format!("[{}]", x.id);
    let cases: Vec<Case> = vec![
        (
            "/org/company/setManager",
            vec![("companyId", &cid), ("managerId", &xlist)],
            "需要创建者权限",
        ),
        (
            "/org/company/managerList",
            vec![("companyId", &cid)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/company/modify",
            vec![("companyId", &cid), ("companyName", "抢")],
            "公司创建者才能修改名称",
        ),
        (
            "/org/company/modify",
            vec![("companyId", &cid), ("noticeContent", "抢")],
            "需要管理员以上权限才能修改公告",
        ),
        (
            "/org/company/modify",
            vec![("companyId", &cid)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/company/delete",
            vec![("companyId", &cid)],
            "只有创建者才能删除",
        ),
        (
            "/org/company/employees",
            vec![("companyId", &cid)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/company/get",
            vec![("companyId", &cid)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/company/quit",
            vec![("companyId", &cid), ("userId", &xs)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/department/create",
            vec![
                ("companyId", &cid),
                ("parentId", &hr),
                ("departName", "抢"),
                ("createUserId", &xs),
            ],
            "需要公司管理员及以上权限",
        ),
        (
            "/org/department/modify",
            vec![("departmentId", &fin), ("dpartmentName", "抢")],
            "权限不足",
        ),
        (
            "/org/department/delete",
            vec![("departmentId", &fin)],
            "权限不足",
        ),
        (
            "/org/department/list",
            vec![("companyId", &cid)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/department/get",
            vec![("departmentId", &hr)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/departmemt/empList",
            vec![("departmentId", &hr)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/department/empList",
            vec![("departmentId", &hr)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/employee/add",
            vec![("userId", &xs), ("companyId", &cid), ("departmentId", &hr)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/employee/delete",
            vec![("userIds", &as_), ("departmentId", &hr)],
            "权限不足",
        ),
        (
            "/org/employee/modifyDpart",
            vec![
                ("userId", &as_),
                ("companyId", &cid),
                ("newDepartmentId", &fin),
            ],
            "权限不足",
        ),
        (
            "/org/employee/modifyRole",
            vec![("userId", &as_), ("companyId", &cid), ("role", "0")],
            "权限不足",
        ),
        (
            "/org/employee/modifyPosition",
            vec![("companyId", &cid), ("position", "抢")],
            "权限不足,非本公司员工",
        ),
        (
            "/org/employee/get",
            vec![("employeeId", &emp_id)],
            "权限不足,非本公司员工",
        ),
        (
            "/org/employee/role",
            vec![("companyId", &cid), ("userId", &as_)],
            "权限不足,非本公司员工",
        ),
    ];
    for (path, pairs, msg) in &cases {
        refused(&call(&app, path, &x, pairs).await, msg);
        // Without a token nothing runs.
        let v = app.post(path, pairs).await;
        assert_eq!(v["resultCode"], 1030101, "{path}: {v}");
        // A malformed id in any id parameter is 1010101, before any permission check.
        for (k, _) in pairs.iter().filter(|(k, _)| {
            k.ends_with("Id") && !k.starts_with("user") && *k != "createUserId" && *k != "managerId"
        }) {
            let broken: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(n, v)| if n == k { (*n, "not-an-id") } else { (*n, *v) })
                .collect();
            bad_param(&call(&app, path, &x, &broken).await);
        }
    }
    // The outsider's own lists show nothing of the company.
    let v = call(&app, "/org/company/list", &x, &[]).await;
    assert_eq!(ok(&v), &json!([]));
    let v = call(&app, "/org/company/getByUserId", &x, &[]).await;
    assert!(v.get("data").is_none());
    // Nothing changed.
    let v = call(&app, "/org/company/get", &a, &[("companyId", &cid)]).await;
    assert_eq!(ok(&v)["companyName"], "甲公司");
    assert_eq!(ok(&v)["empNum"], 1);
    assert_eq!(ok(&v)["deleteUserId"], 0);
    let v = call(&app, "/org/department/list", &a, &[("companyId", &cid)]).await;
    assert_eq!(ok(&v).as_array().unwrap().len(), 4);
    // An employee of another company is an outsider too.
    let y = user(&app, "13910000003", "丙").await;
    let other = company(&app, &y, "丙公司").await;
    let other_hr = str_of(&dept(&other["departments"], "人事部")["id"]);
    refused(
        &call(
            &app,
            "/org/departmemt/empList",
            &y,
            &[("departmentId", &hr)],
        )
        .await,
        "权限不足,非本公司员工",
    );
    // Adding into another company's department through my company is refused.
    refused(
        &call(
            &app,
            "/org/employee/add",
            &a,
            &[
                ("userId", &xs),
                ("companyId", &cid),
                ("departmentId", &other_hr),
            ],
        )
        .await,
        "部门不存在",
    );
}

/// Users stored directly (registration hashes passwords, too slow for a thousand).
async fn bulk_users(app: &TestApp, first: i64, n: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    for id in first..first + n {
        let u: User = serde_json::from_value(json!({
            "_id": id, "nickname": format!("用户{id}"), "telephone": format!("86{id}"),
        }))
        .unwrap();
        app.app.store.users.insert_user(&u).await.unwrap();
        ids.push(id);
    }
    ids
}

/// Concurrent adds (with duplicates) and deletes keep `empNum` equal to the rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn emp_num_stays_exact_under_concurrency() {
    let app = common::spawn().await;
    let a = user(&app, "13920000001", "老板").await;
    let co = company(&app, &a, "并发公司").await;
    let cid = str_of(&co["id"]);
    let hr = str_of(&dept(&co["departments"], "人事部")["id"]);
    let fin = str_of(&dept(&co["departments"], "财务部")["id"]);
    let ids = bulk_users(&app, 5_000_000, 60).await;
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (base, token, cid) = (app.base.clone(), a.token.clone(), cid.clone());
        let d = if i % 2 == 0 { hr.clone() } else { fin.clone() };
        // Every user is added twice at once (one of the two is refused or skipped).
        for _ in 0..2 {
            let (base, token, cid, d) = (base.clone(), token.clone(), cid.clone(), d.clone());
            let id = *id;
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                let v: Value = client
                    .post(format!("{base}/org/employee/add"))
                    .form(&[
                        ("access_token", token.as_str()),
                        ("userId", &id.to_string()),
                        ("companyId", &cid),
                        ("departmentId", &d),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(
                    v["resultCode"] == 1 || v["resultMsg"] == "不能重复添加",
                    "{v}"
                );
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(assert_counts(&app, &a, &cid).await, 61);
    // Concurrent deletes (each user twice) and moves.
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate().take(40) {
        let (base, token) = (app.base.clone(), a.token.clone());
        let d = if i % 2 == 0 { hr.clone() } else { fin.clone() };
        let other = if i % 2 == 0 { fin.clone() } else { hr.clone() };
        let (cid, id) = (cid.clone(), *id);
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let uid = id.to_string();
            let (path, form): (&str, Vec<(&str, &str)>) = if i % 4 == 3 {
                (
                    "/org/employee/modifyDpart",
                    vec![
                        ("userId", &uid),
                        ("companyId", &cid),
                        ("newDepartmentId", &other),
                    ],
                )
            } else {
                (
                    "/org/employee/delete",
                    vec![("userIds", &uid), ("departmentId", &d)],
                )
            };
            let mut form = form;
            form.push(("access_token", &token));
            for _ in 0..2 {
                let v: Value = client
                    .post(format!("{base}{path}"))
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(v["resultCode"], 1, "{path}: {v}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // 30 of the 40 were deleted, 10 moved.
    assert_eq!(assert_counts(&app, &a, &cid).await, 31);
}

/// A company of 1,000 employees in 50 departments lists completely, quickly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_employees_in_fifty_departments() {
    let app = common::spawn().await;
    let a = user(&app, "13930000001", "大老板").await;
    let co = company(&app, &a, "大公司").await;
    let cid = str_of(&co["id"]);
    let root = str_of(&co["rootDpartId"][0]);
    let ids = bulk_users(&app, 6_000_000, 1000).await;
    let mut depts = Vec::new();
    for i in 0..50 {
        let v = call(
            &app,
            "/org/department/create",
            &a,
            &[
                ("companyId", &cid),
                ("parentId", &root),
                ("departName", &format!("部门{i:02}")),
                ("createUserId", &a.sid()),
            ],
        )
        .await;
        depts.push(str_of(&ok(&v)["id"]));
    }
    let started = Instant::now();
    for (i, d) in depts.iter().enumerate() {
        let chunk = &ids[i * 20..(i + 1) * 20];
        let list = serde_json::to_string(chunk).unwrap();
        let v = call(
            &app,
            "/org/employee/add",
            &a,
            &[("userId", &list), ("companyId", &cid), ("departmentId", d)],
        )
        .await;
        assert_eq!(ok(&v).as_array().unwrap().len(), 20);
    }
    let add_took = started.elapsed();
    // Let the one-second nickname cache expire: the listing below reads every user.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let started = Instant::now();
    let v = call(&app, "/org/department/list", &a, &[("companyId", &cid)]).await;
    let list_took = started.elapsed();
    let started = Instant::now();
    let all = call(&app, "/org/company/employees", &a, &[("companyId", &cid)]).await;
    let employees_took = started.elapsed();
    let started = Instant::now();
    let mine = call(&app, "/org/company/getByUserId", &a, &[]).await;
    let tree_took = started.elapsed();
    eprintln!(
        "1,000 employees in 50 departments: 50 adds {add_took:?}; department/list {list_took:?}; \
         company/employees {employees_took:?}; company/getByUserId {tree_took:?}"
    );
    let depts_listed = ok(&v).as_array().unwrap();
    assert_eq!(depts_listed.len(), 54);
    for (i, d) in depts.iter().enumerate() {
        let listed = depts_listed.iter().find(|x| x["id"] == *d).unwrap();
        assert_eq!(listed["departName"], format!("部门{i:02}"));
        assert_eq!(listed["empNum"], 20);
        let got = user_ids(&listed["employees"]);
        assert_eq!(got, ids[i * 20..(i + 1) * 20].to_vec());
        assert_eq!(
            listed["employees"][0]["nickname"],
            format!("用户{}", ids[i * 20])
        );
    }
    assert_eq!(ok(&all).as_array().unwrap().len(), 1001);
    assert_eq!(ok(&mine)[0]["empNum"], 1001);
    assert_eq!(ok(&mine)[0]["departments"].as_array().unwrap().len(), 54);
    assert!(
        list_took.as_secs() < 5,
        "department/list took {list_took:?}"
    );
    let v = call(
        &app,
        "/org/departmemt/empList",
        &a,
        &[("departmentId", &depts[49])],
    )
    .await;
    assert_eq!(user_ids(ok(&v)), ids[980..].to_vec());
}

/// The seed-003 shaped fixtures (`company.json`, `department.json`, `employee.json`) import as
/// one tree, keep their ids, and are served to their employees only.
#[tokio::test]
async fn fixtures_company_is_served() {
    let app = common::spawn().await;
    app.import_fixtures().await;
    // Importing again leaves the company alone.
    let again = shiku_server::fixtures::import(&app.app.store, &common::fixtures_dir())
        .await
        .unwrap();
    assert_eq!(again.companies, 0);
    let login = |phone: &'static str| {
        let app = &app;
        async move {
            let v = app.login(phone, "123456").await;
            assert_eq!(v["resultCode"], 1, "{v}");
            U {
                id: v["data"]["userId"].as_i64().unwrap(),
                token: str_of(&v["data"]["access_token"]),
                phone: phone.to_string(),
            }
        }
    };
    let admin = login("13800000158").await;
    let member = login("13800000159").await;
    let outsider = login("13800000174").await;
    let cid = "5c8f3f0d4c1a2b3c4d5e6f01";
    let v = call(&app, "/org/company/getByUserId", &member, &[]).await;
    let co = &ok(&v)[0];
    assert_eq!(co["id"], cid);
    assert_eq!(co["companyName"], "MY Company");
    assert_eq!(co["createUserId"], 100164);
    assert_eq!(co["empNum"], 3);
    assert_eq!(co["noticeContent"], "欢迎加入 MY Company");
    assert_eq!(co["rootDpartId"], json!(["5c8f3f0d4c1a2b3c4d5e6f02"]));
    let hr = dept(&co["departments"], "人事部");
    assert_eq!(hr["empNum"], 2);
    assert_eq!(user_ids(&hr["employees"]), vec![100158, 100164]);
    let boss = hr["employees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["userId"] == 100164)
        .unwrap();
    assert_eq!(boss["nickname"], "张益达");
    assert_eq!(boss["role"], 3);
    assert_eq!(dept(&co["departments"], "客服部")["type"], 6);
    let v = call(
        &app,
        "/org/employee/role",
        &member,
        &[("companyId", cid), ("userId", &admin.sid())],
    )
    .await;
    assert_eq!(ok(&v), &json!(2));
    // The fixture admin may manage the imported tree.
    let v = call(
        &app,
        "/org/employee/add",
        &admin,
        &[
            ("userId", &outsider.sid()),
            ("companyId", cid),
            ("departmentId", "5c8f3f0d4c1a2b3c4d5e6f04"),
        ],
    )
    .await;
    assert_eq!(user_ids(ok(&v)), vec![100159, 100174]);
    assert_eq!(assert_counts(&app, &admin, cid).await, 4);
    refused(
        &call(
            &app,
            "/org/department/delete",
            &admin,
            &[("departmentId", "5c8f3f0d4c1a2b3c4d5e6f02")],
        )
        .await,
        "该部门不能删除",
    );
}
