//! `OrgStore`: tables `company`, `department` and `employee`.
//!
//! Every write that changes who works where runs in one transaction that ends by recounting
//! `empNum` of the company and of the departments it touched, so the counters equal the rows
//! whatever runs concurrently (and imported data with wrong counters heals on the next change).

use super::*;
use crate::documents::{Company, Department, Employee};
use crate::store::OrgStore;

/// Tables of the organisation port. `id`, `company_id` and `user_id` are written once at
/// insert; everything queried that can change is a generated column over the document.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS company (
    rid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    company_name TEXT GENERATED ALWAYS AS (json_extract(doc, '$.companyName')) VIRTUAL,
    delete_user_id INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.deleteUserId')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS company_name ON company(company_name, delete_user_id);
CREATE TABLE IF NOT EXISTS department (
    rid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    company_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    depart_name TEXT GENERATED ALWAYS AS (json_extract(doc, '$.departName')) VIRTUAL,
    type INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.type')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS department_company ON department(company_id, depart_name);
CREATE TABLE IF NOT EXISTS employee (
    rid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    company_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    doc TEXT NOT NULL,
    department_id TEXT GENERATED ALWAYS AS (json_extract(doc, '$.departmentId')) VIRTUAL,
    role INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.role')) VIRTUAL,
    UNIQUE (company_id, user_id)
);
CREATE INDEX IF NOT EXISTS employee_department ON employee(department_id);
CREATE INDEX IF NOT EXISTS employee_user ON employee(user_id);
CREATE INDEX IF NOT EXISTS employee_role ON employee(company_id, role);
"#;

const COMPANY: &str = "company";
const DEPARTMENT: &str = "department";
const EMPLOYEE: &str = "employee";

/// Applies `patch` to the one row of `table` whose `id` is this and returns the new document.
fn patch_doc<T: DeserializeOwned>(
    tx: &rusqlite::Transaction,
    table: &str,
    id: &str,
    patch: &Patch,
) -> StoreResult<Option<T>> {
    let text: Option<String> = tx
        .query_row(
            &format!("SELECT doc FROM {table} WHERE id = ?1"),
            params![id],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    let Some(text) = text else { return Ok(None) };
    let mut doc: serde_json::Value = decode(table, &text)?;
    patch.apply_to_json(&mut doc);
    tx.execute(
        &format!("UPDATE {table} SET doc = ?2 WHERE id = ?1"),
        params![id, doc.to_string()],
    )
    .map_err(backend)?;
    decode(table, &doc.to_string()).map(Some)
}

/// Sets `empNum` of the company and of these departments to their employee counts.
fn recount(
    tx: &rusqlite::Transaction,
    company_id: &str,
    departments: &[String],
) -> StoreResult<()> {
    tx.execute(
        "UPDATE company SET doc = json_set(doc, '$.empNum', \
         (SELECT COUNT(*) FROM employee WHERE company_id = ?1)) WHERE id = ?1",
        params![company_id],
    )
    .map_err(backend)?;
    for d in departments {
        tx.execute(
            "UPDATE department SET doc = json_set(doc, '$.empNum', \
             (SELECT COUNT(*) FROM employee WHERE department_id = ?1)) WHERE id = ?1",
            params![d],
        )
        .map_err(backend)?;
    }
    Ok(())
}

/// Whether this department exists and belongs to this company.
fn dept_in_company(
    tx: &rusqlite::Transaction,
    department_id: &str,
    company_id: &str,
) -> StoreResult<bool> {
    tx.query_row(
        "SELECT 1 FROM department WHERE id = ?1 AND company_id = ?2",
        params![department_id, company_id],
        |_| Ok(()),
    )
    .optional()
    .map_err(backend)
    .map(|r| r.is_some())
}

fn insert_employee(tx: &rusqlite::Transaction, e: &Employee) -> StoreResult<bool> {
    let id = e.id.clone().unwrap_or_else(new_id);
    let company_id = e.company_id.clone().unwrap_or_default();
    let n = tx
        .execute(
            "INSERT OR IGNORE INTO employee (id, company_id, user_id, doc) VALUES (?1, ?2, ?3, ?4)",
            params![
                id,
                company_id,
                e.user_id,
                encode(&Employee {
                    id: Some(id.clone()),
                    ..e.clone()
                })?
            ],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

fn name_taken(tx: &rusqlite::Transaction, name: &str, except: Option<&str>) -> StoreResult<bool> {
    tx.query_row(
        "SELECT 1 FROM company WHERE company_name = ?1 AND IFNULL(delete_user_id, 0) = 0 \
         AND id != IFNULL(?2, '') LIMIT 1",
        params![name, except],
        |_| Ok(()),
    )
    .optional()
    .map_err(backend)
    .map(|r| r.is_some())
}

fn dept_name_taken(
    tx: &rusqlite::Transaction,
    company_id: &str,
    name: &str,
    except: Option<&str>,
) -> StoreResult<bool> {
    tx.query_row(
        "SELECT 1 FROM department WHERE company_id = ?1 AND depart_name = ?2 \
         AND id != IFNULL(?3, '') LIMIT 1",
        params![company_id, name, except],
        |_| Ok(()),
    )
    .optional()
    .map_err(backend)
    .map(|r| r.is_some())
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn create_company(
        &self,
        company: &Company,
        departments: &[Department],
        employees: &[Employee],
    ) -> StoreResult<()> {
        let (company, departments, employees) =
            (company.clone(), departments.to_vec(), employees.to_vec());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            if name_taken(&tx, &company.company_name, None)? {
                return Err(StoreError::Duplicate(format!(
                    "company name {}",
                    company.company_name
                )));
            }
            let cid = company.id.clone().unwrap_or_else(new_id);
            let stored = Company {
                id: Some(cid.clone()),
                ..company
            };
            tx.execute(
                "INSERT INTO company (id, doc) VALUES (?1, ?2)",
                params![cid, encode(&stored)?],
            )
            .map_err(|e| unique_or_backend(COMPANY, e))?;
            let mut dept_ids = Vec::new();
            for d in departments {
                let id = d.id.clone().unwrap_or_else(new_id);
                let doc = Department {
                    id: Some(id.clone()),
                    company_id: Some(cid.clone()),
                    ..d
                };
                tx.execute(
                    "INSERT INTO department (id, company_id, doc) VALUES (?1, ?2, ?3)",
                    params![id, cid, encode(&doc)?],
                )
                .map_err(|e| unique_or_backend(DEPARTMENT, e))?;
                dept_ids.push(id);
            }
            for e in employees {
                insert_employee(
                    &tx,
                    &Employee {
                        company_id: Some(cid.clone()),
                        ..e
                    },
                )?;
            }
            recount(&tx, &cid, &dept_ids)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn get_company(&self, company_id: &str) -> StoreResult<Option<Company>> {
        let id = company_id.to_string();
        self.run(move |c| {
            one_doc(
                c,
                COMPANY,
                "SELECT doc FROM company WHERE id = ?1",
                params![id],
            )
        })
        .await
    }

    async fn update_company(
        &self,
        company_id: &str,
        patch: &Patch,
    ) -> StoreResult<Option<Company>> {
        let (id, patch) = (company_id.to_string(), patch.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let out = patch_doc(&tx, COMPANY, &id, &patch)?;
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }

    async fn rename_company(&self, company_id: &str, name: &str) -> StoreResult<Option<Company>> {
        let (id, name) = (company_id.to_string(), name.to_string());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            if name_taken(&tx, &name, Some(&id))? {
                return Err(StoreError::Duplicate(format!("company name {name}")));
            }
            let patch = Patch::new().set("companyName", name.as_str());
            let out: Option<Company> = patch_doc(&tx, COMPANY, &id, &patch)?;
            if out.is_some() {
                tx.execute(
                    "UPDATE department SET doc = json_set(doc, '$.departName', ?2) \
                     WHERE company_id = ?1 AND type = 1",
                    params![id, name],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }

    async fn insert_department(&self, department: &Department) -> StoreResult<()> {
        let d = department.clone();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let cid = d.company_id.clone().unwrap_or_default();
            if dept_name_taken(&tx, &cid, &d.depart_name, None)? {
                return Err(StoreError::Duplicate(format!(
                    "department name {}",
                    d.depart_name
                )));
            }
            let id = d.id.clone().unwrap_or_else(new_id);
            let doc = Department {
                id: Some(id.clone()),
                emp_num: 0,
                ..d
            };
            tx.execute(
                "INSERT INTO department (id, company_id, doc) VALUES (?1, ?2, ?3)",
                params![id, cid, encode(&doc)?],
            )
            .map_err(|e| unique_or_backend(DEPARTMENT, e))?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn get_department(&self, department_id: &str) -> StoreResult<Option<Department>> {
        let id = department_id.to_string();
        self.run(move |c| {
            one_doc(
                c,
                DEPARTMENT,
                "SELECT doc FROM department WHERE id = ?1",
                params![id],
            )
        })
        .await
    }

    async fn rename_department(
        &self,
        department_id: &str,
        name: &str,
    ) -> StoreResult<Option<Department>> {
        let (id, name) = (department_id.to_string(), name.to_string());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let cid: Option<String> = tx
                .query_row(
                    "SELECT company_id FROM department WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(cid) = cid else { return Ok(None) };
            if dept_name_taken(&tx, &cid, &name, Some(&id))? {
                return Err(StoreError::Duplicate(format!("department name {name}")));
            }
            let out = patch_doc(&tx, DEPARTMENT, &id, &Patch::new().set("departName", name))?;
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }

    async fn departments_of(&self, company_id: &str) -> StoreResult<Vec<Department>> {
        let id = company_id.to_string();
        self.run(move |c| {
            docs(
                c,
                DEPARTMENT,
                "SELECT doc FROM department WHERE company_id = ?1 ORDER BY rid",
                params![id],
            )
        })
        .await
    }

    async fn delete_department(&self, department_id: &str) -> StoreResult<Option<u64>> {
        let id = department_id.to_string();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let cid: Option<String> = tx
                .query_row(
                    "SELECT company_id FROM department WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(cid) = cid else { return Ok(None) };
            let n = tx
                .execute("DELETE FROM employee WHERE department_id = ?1", params![id])
                .map_err(backend)?;
            tx.execute("DELETE FROM department WHERE id = ?1", params![id])
                .map_err(backend)?;
            recount(&tx, &cid, &[])?;
            tx.commit().map_err(backend)?;
            Ok(Some(n as u64))
        })
        .await
    }

    async fn add_employees(
        &self,
        company_id: &str,
        department_id: &str,
        employees: &[Employee],
    ) -> StoreResult<Vec<i32>> {
        let (cid, did, employees) = (
            company_id.to_string(),
            department_id.to_string(),
            employees.to_vec(),
        );
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            if !dept_in_company(&tx, &did, &cid)? {
                return Ok(Vec::new());
            }
            let mut added = Vec::new();
            for e in employees {
                let e = Employee {
                    company_id: Some(cid.clone()),
                    department_id: Some(did.clone()),
                    ..e
                };
                if insert_employee(&tx, &e)? {
                    added.push(e.user_id);
                }
            }
            recount(&tx, &cid, std::slice::from_ref(&did))?;
            tx.commit().map_err(backend)?;
            Ok(added)
        })
        .await
    }

    async fn get_employee(&self, company_id: &str, user_id: i32) -> StoreResult<Option<Employee>> {
        let id = company_id.to_string();
        self.run(move |c| {
            one_doc(
                c,
                EMPLOYEE,
                "SELECT doc FROM employee WHERE company_id = ?1 AND user_id = ?2",
                params![id, user_id],
            )
        })
        .await
    }

    async fn get_employee_by_id(&self, employee_id: &str) -> StoreResult<Option<Employee>> {
        let id = employee_id.to_string();
        self.run(move |c| {
            one_doc(
                c,
                EMPLOYEE,
                "SELECT doc FROM employee WHERE id = ?1",
                params![id],
            )
        })
        .await
    }

    async fn employees_of_company(
        &self,
        company_id: &str,
        role: Option<i32>,
    ) -> StoreResult<Vec<Employee>> {
        let id = company_id.to_string();
        self.run(move |c| match role {
            Some(r) => docs(
                c,
                EMPLOYEE,
                "SELECT doc FROM employee WHERE company_id = ?1 AND role = ?2 ORDER BY rid",
                params![id, r],
            ),
            None => docs(
                c,
                EMPLOYEE,
                "SELECT doc FROM employee WHERE company_id = ?1 ORDER BY rid",
                params![id],
            ),
        })
        .await
    }

    async fn employees_of_department(&self, department_id: &str) -> StoreResult<Vec<Employee>> {
        let id = department_id.to_string();
        self.run(move |c| {
            docs(
                c,
                EMPLOYEE,
                "SELECT doc FROM employee WHERE department_id = ?1 ORDER BY rid",
                params![id],
            )
        })
        .await
    }

    async fn employments_of(&self, user_id: i32) -> StoreResult<Vec<Employee>> {
        self.run(move |c| {
            docs(
                c,
                EMPLOYEE,
                "SELECT doc FROM employee WHERE user_id = ?1 ORDER BY rid",
                params![user_id],
            )
        })
        .await
    }

    async fn update_employee(
        &self,
        company_id: &str,
        user_id: i32,
        patch: &Patch,
    ) -> StoreResult<Option<Employee>> {
        let (cid, patch) = (company_id.to_string(), patch.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let id: Option<String> = tx
                .query_row(
                    "SELECT id FROM employee WHERE company_id = ?1 AND user_id = ?2",
                    params![cid, user_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(id) = id else { return Ok(None) };
            let out = patch_doc(&tx, EMPLOYEE, &id, &patch)?;
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }

    async fn remove_employees(
        &self,
        company_id: &str,
        department_id: Option<&str>,
        user_ids: &[i32],
    ) -> StoreResult<u64> {
        let (cid, did) = (company_id.to_string(), department_id.map(str::to_string));
        let list = serde_json::to_string(user_ids).map_err(backend)?;
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let filter = "company_id = ?1 AND user_id IN (SELECT value FROM json_each(?2)) \
                          AND (?3 IS NULL OR department_id = ?3)";
            let depts: Vec<String> = {
                let mut st = tx
                    .prepare(&format!(
                        "SELECT DISTINCT department_id FROM employee WHERE {filter}"
                    ))
                    .map_err(backend)?;
                let rows = st
                    .query_map(params![cid, list, did], |r| r.get::<_, Option<String>>(0))
                    .map_err(backend)?;
                let mut v = Vec::new();
                for r in rows {
                    if let Some(d) = r.map_err(backend)? {
                        v.push(d);
                    }
                }
                v
            };
            let n = tx
                .execute(
                    &format!("DELETE FROM employee WHERE {filter}"),
                    params![cid, list, did],
                )
                .map_err(backend)?;
            recount(&tx, &cid, &depts)?;
            tx.commit().map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn move_employee(
        &self,
        company_id: &str,
        user_id: i32,
        department_id: &str,
    ) -> StoreResult<Option<Employee>> {
        let (cid, did) = (company_id.to_string(), department_id.to_string());
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            if !dept_in_company(&tx, &did, &cid)? {
                return Ok(None);
            }
            let row: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT id, department_id FROM employee WHERE company_id = ?1 AND user_id = ?2",
                    params![cid, user_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend)?;
            let Some((id, old)) = row else {
                return Ok(None);
            };
            let out = patch_doc(
                &tx,
                EMPLOYEE,
                &id,
                &Patch::new().set("departmentId", did.as_str()),
            )?;
            let mut touched = vec![did];
            touched.extend(old);
            recount(&tx, &cid, &touched)?;
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }
}

fn unique_or_backend(table: &str, e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate(format!("{table}: {e}"))
    } else {
        backend(e)
    }
}
