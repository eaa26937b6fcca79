//! The organisation store suite, run against both adapters: the embedded SQLite store always,
//! MongoDB when `SHIKU_TEST_MONGODB_URI` is set (it says it was skipped otherwise).

mod common;

use std::time::Instant;

use shiku_server::config::MessageLayout;
use shiku_server::documents::{Company, Department, Employee};
use shiku_server::domain::org::new_id;
use shiku_server::store::{Patch, Store, StoreError};

use common::stores::{self, sqlite};

fn company(id: &str, name: &str, root: &str, creator: i32) -> Company {
    Company {
        id: Some(id.into()),
        company_name: name.into(),
        create_user_id: creator,
        root_dpart_id: vec![root.into()],
        create_time: 1_600_000_000,
        // Deliberately wrong: the store sets it from the employees given.
        emp_num: 99,
        ..Company::default()
    }
}

fn dept(id: &str, company: &str, parent: Option<&str>, name: &str, kind: i32) -> Department {
    Department {
        id: Some(id.into()),
        company_id: Some(company.into()),
        parent_id: parent.map(str::to_string),
        depart_name: name.into(),
        create_user_id: 1,
        create_time: 1_600_000_000,
        emp_num: 42,
        kind,
        ..Department::default()
    }
}

fn emp(company: &str, dept: &str, user: i32, role: i32) -> Employee {
    Employee {
        id: Some(new_id()),
        user_id: user,
        department_id: Some(dept.into()),
        company_id: Some(company.into()),
        role,
        position: "员工".into(),
        ..Employee::default()
    }
}

/// A company `name` with a root and two departments and its creator (user `creator`) in the
/// first one; returns (companyId, rootId, deptA, deptB).
async fn tree(s: &Store, name: &str, creator: i32) -> (String, String, String, String) {
    let (c, root, a, b) = (new_id(), new_id(), new_id(), new_id());
    let depts = vec![
        dept(&root, &c, None, name, 1),
        dept(&a, &c, Some(&root), "A", 0),
        dept(&b, &c, Some(&root), "B", 0),
    ];
    let mut boss = emp(&c, &a, creator, 3);
    boss.position = "创建者".into();
    s.org
        .create_company(&company(&c, name, &root, creator), &depts, &[boss])
        .await
        .unwrap();
    (c, root, a, b)
}

async fn counts(s: &Store, company: &str) -> (i32, Vec<(String, i32)>) {
    let c = s.org.get_company(company).await.unwrap().unwrap();
    let d = s
        .org
        .departments_of(company)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.depart_name, d.emp_num))
        .collect();
    (c.emp_num, d)
}

/// The counters equal the rows: the company's and every department's.
async fn assert_counts_exact(s: &Store, company: &str) {
    let c = s.org.get_company(company).await.unwrap().unwrap();
    let all = s.org.employees_of_company(company, None).await.unwrap();
    assert_eq!(c.emp_num as usize, all.len(), "company empNum");
    for d in s.org.departments_of(company).await.unwrap() {
        let id = d.id.clone().unwrap();
        let n = s.org.employees_of_department(&id).await.unwrap().len();
        assert_eq!(d.emp_num as usize, n, "empNum of {}", d.depart_name);
    }
}

async fn users(s: &Store, company: &str, role: Option<i32>) -> Vec<i32> {
    s.org
        .employees_of_company(company, role)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.user_id)
        .collect()
}

async fn run(s: Store) {
    let (c, root, a, b) = tree(&s, "Acme", 1).await;
    // Counters come from the employees given, not the documents.
    assert_eq!(
        counts(&s, &c).await,
        (
            1,
            vec![("Acme".into(), 0), ("A".into(), 1), ("B".into(), 0)]
        )
    );
    let got = s.org.get_company(&c).await.unwrap().unwrap();
    assert_eq!(got.root_dpart_id, vec![root.clone()]);
    assert_eq!(got.delete_user_id, 0);
    let root_doc = s.org.get_department(&root).await.unwrap().unwrap();
    assert_eq!(root_doc.parent_id, None);
    assert_eq!(root_doc.kind, 1);
    assert_eq!(
        s.org.get_department(&a).await.unwrap().unwrap().parent_id,
        Some(root.clone())
    );

    // Ids that name nothing (or no ObjectId) find nothing, never an error.
    for bad in ["", "x", "000000000000000000000000"] {
        assert!(s.org.get_company(bad).await.unwrap().is_none());
        assert!(s.org.get_department(bad).await.unwrap().is_none());
        assert!(s.org.get_employee_by_id(bad).await.unwrap().is_none());
        assert!(s.org.departments_of(bad).await.unwrap().is_empty());
        assert!(s
            .org
            .add_employees(bad, &a, &[emp(bad, &a, 9, 0)])
            .await
            .unwrap()
            .is_empty());
    }

    // Duplicate company names among active companies.
    let dup = s
        .org
        .create_company(&company(&new_id(), "Acme", &new_id(), 2), &[], &[])
        .await;
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    let (c2, _, a2, _) = tree(&s, "Other", 2).await;
    assert!(matches!(
        s.org.rename_company(&c2, "Acme").await,
        Err(StoreError::Duplicate(_))
    ));
    // Renaming to its own name is no conflict; the root department follows the name.
    let renamed = s.org.rename_company(&c, "Acme 2").await.unwrap().unwrap();
    assert_eq!(renamed.company_name, "Acme 2");
    assert_eq!(
        s.org
            .get_department(&root)
            .await
            .unwrap()
            .unwrap()
            .depart_name,
        "Acme 2"
    );
    assert_eq!(
        s.org.get_department(&a).await.unwrap().unwrap().depart_name,
        "A"
    );
    assert!(s.org.rename_company(&c, "Acme 2").await.unwrap().is_some());
    assert!(s
        .org
        .rename_company(&new_id(), "Zed")
        .await
        .unwrap()
        .is_none());

    // Departments: names unique per company, not across companies.
    let d3 = new_id();
    s.org
        .insert_department(&dept(&d3, &c, Some(&a), "C", 0))
        .await
        .unwrap();
    assert_eq!(s.org.get_department(&d3).await.unwrap().unwrap().emp_num, 0);
    assert!(matches!(
        s.org
            .insert_department(&dept(&new_id(), &c, Some(&a), "C", 0))
            .await,
        Err(StoreError::Duplicate(_))
    ));
    s.org
        .insert_department(&dept(&new_id(), &c2, None, "C", 0))
        .await
        .unwrap();
    assert!(matches!(
        s.org.rename_department(&d3, "B").await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(
        s.org
            .rename_department(&d3, "D")
            .await
            .unwrap()
            .unwrap()
            .depart_name,
        "D"
    );
    assert!(s
        .org
        .rename_department(&new_id(), "E")
        .await
        .unwrap()
        .is_none());
    let names: Vec<String> = s
        .org
        .departments_of(&c)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.depart_name)
        .collect();
    assert_eq!(names, ["Acme 2", "A", "B", "D"], "creation order");

    // Adding: existing employees skipped, counters raised by the number added.
    let added = s
        .org
        .add_employees(
            &c,
            &b,
            &[emp(&c, &b, 10, 0), emp(&c, &b, 11, 0), emp(&c, &b, 1, 0)],
        )
        .await
        .unwrap();
    assert_eq!(added, vec![10, 11]);
    // A department of another company: nothing added.
    assert!(s
        .org
        .add_employees(&c, &a2, &[emp(&c, &a2, 12, 0)])
        .await
        .unwrap()
        .is_empty());
    assert_counts_exact(&s, &c).await;
    assert_eq!(counts(&s, &c).await.0, 3);
    assert_eq!(users(&s, &c, None).await, vec![1, 10, 11]);
    assert_eq!(users(&s, &c, Some(3)).await, vec![1]);
    assert_eq!(
        s.org
            .employees_of_department(&b)
            .await
            .unwrap()
            .iter()
            .map(|e| e.user_id)
            .collect::<Vec<_>>(),
        vec![10, 11]
    );
    // One user in two companies.
    s.org
        .add_employees(&c2, &a2, &[emp(&c2, &a2, 10, 0)])
        .await
        .unwrap();
    let jobs: Vec<String> = s
        .org
        .employments_of(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.company_id.unwrap())
        .collect();
    assert_eq!(jobs, vec![c.clone(), c2.clone()]);

    // Updates touch only the fields they name (the reference reset role/chatNum/isPause).
    let e10 = s.org.get_employee(&c, 10).await.unwrap().unwrap();
    assert_eq!(
        s.org
            .get_employee_by_id(e10.id.as_deref().unwrap())
            .await
            .unwrap(),
        Some(e10.clone())
    );
    s.org
        .update_employee(&c, 10, &Patch::new().set("chatNum", 5).set("isPause", 1))
        .await
        .unwrap();
    s.org
        .update_employee(&c, 10, &Patch::new().set("role", 2))
        .await
        .unwrap();
    let e = s
        .org
        .update_employee(&c, 10, &Patch::new().set("position", "经理"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.role, e.chat_num, e.is_pause), (2, 5, 1));
    assert_eq!(e.position, "经理");
    assert!(s
        .org
        .update_employee(&c, 999, &Patch::new().set("role", 2))
        .await
        .unwrap()
        .is_none());

    // Moving keeps every other field and moves one count.
    let moved = s.org.move_employee(&c, 10, &a).await.unwrap().unwrap();
    assert_eq!(moved.department_id.as_deref(), Some(a.as_str()));
    assert_eq!(
        (moved.role, moved.chat_num, moved.position.as_str()),
        (2, 5, "经理")
    );
    assert_counts_exact(&s, &c).await;
    assert_eq!(
        counts(&s, &c).await.1,
        vec![
            ("Acme 2".into(), 0),
            ("A".into(), 2),
            ("B".into(), 1),
            ("D".into(), 0)
        ]
    );
    // Same department: nothing changes; another company's department or a stranger: None.
    assert!(s.org.move_employee(&c, 10, &a).await.unwrap().is_some());
    assert!(s.org.move_employee(&c, 10, &a2).await.unwrap().is_none());
    assert!(s.org.move_employee(&c, 999, &b).await.unwrap().is_none());
    assert_counts_exact(&s, &c).await;

    // Removing: only from the department named, counted exactly.
    assert_eq!(
        s.org
            .remove_employees(&c, Some(&b), &[10, 999])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.org.remove_employees(&c, Some(&b), &[11]).await.unwrap(),
        1
    );
    assert_counts_exact(&s, &c).await;
    assert_eq!(s.org.remove_employees(&c, None, &[10]).await.unwrap(), 1);
    assert_counts_exact(&s, &c).await;
    assert_eq!(counts(&s, &c).await.0, 1);
    // The other company is untouched.
    assert_eq!(users(&s, &c2, None).await, vec![2, 10]);

    // Deleting a department takes its employees and lowers the company count.
    s.org
        .add_employees(&c, &d3, &[emp(&c, &d3, 20, 0), emp(&c, &d3, 21, 0)])
        .await
        .unwrap();
    assert_eq!(counts(&s, &c).await.0, 3);
    assert_eq!(s.org.delete_department(&d3).await.unwrap(), Some(2));
    assert!(s.org.get_department(&d3).await.unwrap().is_none());
    assert!(s.org.get_employee(&c, 20).await.unwrap().is_none());
    assert_counts_exact(&s, &c).await;
    assert_eq!(counts(&s, &c).await.0, 1);
    assert_eq!(s.org.delete_department(&d3).await.unwrap(), None);

    // Soft delete: the name is free again; the company is still readable by id.
    let deleted = s
        .org
        .update_company(
            &c2,
            &Patch::new().set("deleteUserId", 2).set("deleteTime", 5_i64),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((deleted.delete_user_id, deleted.delete_time), (2, 5));
    assert_eq!(deleted.company_name, "Other");
    tree(&s, "Other", 3).await;
    let notice = s
        .org
        .update_company(
            &c,
            &Patch::new()
                .set("noticeContent", "hi")
                .set("noticeTime", 7_i64),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (notice.notice_content.as_str(), notice.notice_time),
        ("hi", 7)
    );
    assert_eq!(notice.root_dpart_id, vec![root]);
}

/// Concurrent adds (some of the same users), removals and moves: the counters stay exact.
async fn run_concurrent(s: Store) {
    let (c, _, a, b) = tree(&s, "Busy", 1).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (s, c, a, b) = (s.clone(), c.clone(), a.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            // Users 100..120 are added twice each (by i and i+20), into either department.
            let user = 100 + (i % 20);
            let d = if i % 2 == 0 { &a } else { &b };
            s.org
                .add_employees(&c, d, &[emp(&c, d, user, 0), emp(&c, d, 1000 + i, 0)])
                .await
                .unwrap()
                .len()
        }));
    }
    let mut added = 0;
    for t in tasks {
        added += t.await.unwrap();
    }
    // 20 shared users once each, 40 own users.
    assert_eq!(added, 60);
    assert_counts_exact(&s, &c).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (s, c, a, b) = (s.clone(), c.clone(), a.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            match i % 3 {
                0 => s
                    .org
                    .remove_employees(&c, None, &[100 + (i % 20), 1000 + i])
                    .await
                    .map(|_| ()),
                1 => s
                    .org
                    .move_employee(&c, 100 + (i % 20), if i % 2 == 0 { &a } else { &b })
                    .await
                    .map(|_| ()),
                _ => s
                    .org
                    .add_employees(&c, &b, &[emp(&c, &b, 2000 + i, 0)])
                    .await
                    .map(|_| ()),
            }
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_counts_exact(&s, &c).await;
}

/// 1,000 employees in 50 departments list completely and in order.
async fn run_big(s: Store) {
    let (c, root, _, _) = tree(&s, "Big", 1).await;
    let mut depts = Vec::new();
    for i in 0..50 {
        let id = new_id();
        s.org
            .insert_department(&dept(&id, &c, Some(&root), &format!("D{i:02}"), 0))
            .await
            .unwrap();
        depts.push(id);
    }
    for (i, d) in depts.iter().enumerate() {
        let batch: Vec<Employee> = (0..20)
            .map(|k| emp(&c, d, 10_000 + (i * 20 + k) as i32, 0))
            .collect();
        assert_eq!(s.org.add_employees(&c, d, &batch).await.unwrap().len(), 20);
    }
    let started = Instant::now();
    let all = s.org.employees_of_company(&c, None).await.unwrap();
    let departments = s.org.departments_of(&c).await.unwrap();
    let took = started.elapsed();
    eprintln!("store: 1,001 employees and 53 departments read in {took:?}");
    assert_eq!(all.len(), 1001);
    assert_eq!(departments.len(), 53);
    let ids: Vec<i32> = all.iter().skip(1).map(|e| e.user_id).collect();
    assert_eq!(
        ids,
        (10_000..11_000).collect::<Vec<i32>>(),
        "insertion order"
    );
    for (i, d) in depts.iter().enumerate() {
        let list = s.org.employees_of_department(d).await.unwrap();
        assert_eq!(list.len(), 20);
        assert_eq!(list[0].user_id, 10_000 + (i * 20) as i32);
    }
    assert_counts_exact(&s, &c).await;
    assert_eq!(counts(&s, &c).await.0, 1001);
}

#[tokio::test]
async fn sqlite_org_suite() {
    let (store, _dir) = sqlite();
    run(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_org_concurrent() {
    let (store, _dir) = sqlite();
    run_concurrent(store).await;
}

#[tokio::test]
async fn sqlite_org_big_tree() {
    let (store, _dir) = sqlite();
    run_big(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_org_suite() {
    if let Some((store, dbs)) = stores::mongo("org store suite", MessageLayout::Reference).await {
        run(store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_org_concurrent() {
    if let Some((store, dbs)) = stores::mongo("org store suite", MessageLayout::Reference).await {
        run_concurrent(store).await;
        dbs.drop_all().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_org_big_tree() {
    if let Some((store, dbs)) = stores::mongo("org store suite", MessageLayout::Reference).await {
        run_big(store).await;
        dbs.drop_all().await;
    }
}
