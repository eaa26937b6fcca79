//! `OrgStore` on the reference's API-database collections `company`, `department` and
//! `employee` (spec/reference-server.md 4.5), with ObjectId ids and references as Morphia
//! wrote them; a hex id that names no ObjectId matches nothing.
//!
//! A standalone MongoDB has no multi-document transactions, so `empNum` is kept exact by
//! `$inc`ing only for writes that took effect: an employee is added by an upsert on
//! `(companyId, userId)` and counted when it inserted, removed by a `find_one_and_delete` and
//! counted when it deleted, and moved by an update conditional on its old department.

use mongodb::bson::oid::ObjectId;

use super::*;
use crate::documents::{Company, Department, Employee};
use crate::store::OrgStore;

const COMPANY: &str = "company";
const DEPARTMENT: &str = "department";
const EMPLOYEE: &str = "employee";

/// Attempts of a conditional department move before giving up (each retry means another move
/// of the same employee won in between).
const MOVE_ATTEMPTS: usize = 8;

fn oid(hex: &str) -> Option<ObjectId> {
    ObjectId::parse_str(hex).ok()
}

/// ObjectIds at the reference fields back to hex strings (our types' form).
fn hexify(d: &mut Document) {
    for key in ["_id", "companyId", "departmentId", "parentId"] {
        if let Some(Bson::ObjectId(o)) = d.get(key) {
            let hex = o.to_hex();
            d.insert(key, hex);
        }
    }
    if let Ok(ids) = d.get_array_mut("rootDpartId") {
        for v in ids.iter_mut() {
            if let Bson::ObjectId(o) = v {
                *v = Bson::String(o.to_hex());
            }
        }
    }
}

/// Hex ids at the reference fields to ObjectIds (the Java entities' type).
fn oidify(d: &mut Document) {
    for key in ["_id", "companyId", "departmentId", "parentId"] {
        if let Some(Bson::String(s)) = d.get(key) {
            if let Some(o) = oid(s) {
                d.insert(key, o);
            }
        }
    }
    if let Ok(ids) = d.get_array_mut("rootDpartId") {
        for v in ids.iter_mut() {
            if let Bson::String(s) = v {
                if let Some(o) = oid(s) {
                    *v = Bson::ObjectId(o);
                }
            }
        }
    }
}

fn to_doc<T: Serialize>(collection: &str, v: &T) -> StoreResult<Document> {
    let mut d = encode(collection, v)?;
    oidify(&mut d);
    Ok(d)
}

fn from_doc<T: DeserializeOwned>(collection: &str, mut d: Document) -> StoreResult<T> {
    hexify(&mut d);
    decode(collection, d)
}

impl MongoStore {
    /// The reference's organisation indexes (4.5), and a unique `(companyId, userId)` that makes
    /// concurrent adds of one user insert once (plain when existing data forbids it).
    pub(super) async fn create_org_indexes(&self) {
        for field in [
            "companyName",
            "createUserId",
            "deleteUserId",
            "rootDpartId",
            "createTime",
            "noticeContent",
            "empNum",
            "type",
        ] {
            self.ensure_index(COMPANY, doc! { field: 1 }, None).await;
        }
        for field in [
            "companyId",
            "parentId",
            "departName",
            "createUserId",
            "type",
        ] {
            self.ensure_index(DEPARTMENT, doc! { field: 1 }, None).await;
        }
        self.ensure_index(
            EMPLOYEE,
            doc! { "userId": 1, "departmentId": 1, "companyId": 1, "role": 1 },
            None,
        )
        .await;
        for field in ["userId", "departmentId", "companyId", "role"] {
            self.ensure_index(EMPLOYEE, doc! { field: 1 }, None).await;
        }
        let unique = IndexOptions::builder()
            .name("companyId_userId_unique".to_string())
            .unique(true)
            .build();
        if !self
            .ensure_index(EMPLOYEE, doc! { "companyId": 1, "userId": 1 }, Some(unique))
            .await
        {
            tracing::warn!(
                "no unique index on employee (companyId, userId): concurrent adds of one user \
                 may insert twice"
            );
        }
    }

    async fn find_all<T: DeserializeOwned>(
        &self,
        collection: &str,
        filter: Document,
    ) -> StoreResult<Vec<T>> {
        let docs: Vec<Document> = self
            .coll(collection)
            .find(filter)
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        docs.into_iter().map(|d| from_doc(collection, d)).collect()
    }

    async fn find_one<T: DeserializeOwned>(
        &self,
        collection: &str,
        filter: Document,
    ) -> StoreResult<Option<T>> {
        let found = self
            .coll(collection)
            .find_one(filter)
            .await
            .map_err(backend)?;
        found.map(|d| from_doc(collection, d)).transpose()
    }

    async fn company_name_taken(&self, name: &str, except: Option<ObjectId>) -> StoreResult<bool> {
        let mut filter = doc! { "companyName": name, "deleteUserId": { "$in": [0, Bson::Null] } };
        if let Some(id) = except {
            filter.insert("_id", doc! { "$ne": id });
        }
        Ok(self
            .coll(COMPANY)
            .find_one(filter)
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .is_some())
    }

    async fn dept_name_taken(
        &self,
        company: ObjectId,
        name: &str,
        except: Option<ObjectId>,
    ) -> StoreResult<bool> {
        let mut filter = doc! { "companyId": company, "departName": name };
        if let Some(id) = except {
            filter.insert("_id", doc! { "$ne": id });
        }
        Ok(self
            .coll(DEPARTMENT)
            .find_one(filter)
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .is_some())
    }

    async fn dept_in_company(&self, department: ObjectId, company: ObjectId) -> StoreResult<bool> {
        Ok(self
            .coll(DEPARTMENT)
            .find_one(doc! { "_id": department, "companyId": company })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .is_some())
    }

    async fn inc_emp_num(&self, collection: &str, id: ObjectId, by: i32) -> StoreResult<()> {
        self.coll(collection)
            .update_one(doc! { "_id": id }, doc! { "$inc": { "empNum": by } })
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl OrgStore for MongoStore {
    async fn create_company(
        &self,
        company: &Company,
        departments: &[Department],
        employees: &[Employee],
    ) -> StoreResult<()> {
        if self.company_name_taken(&company.company_name, None).await? {
            return Err(StoreError::Duplicate(format!(
                "company name {}",
                company.company_name
            )));
        }
        let cid = company
            .id
            .clone()
            .unwrap_or_else(|| ObjectId::new().to_hex());
        let stored = Company {
            id: Some(cid.clone()),
            emp_num: i32::try_from(employees.len()).unwrap_or(i32::MAX),
            ..company.clone()
        };
        self.coll(COMPANY)
            .insert_one(to_doc(COMPANY, &stored)?)
            .await
            .map_err(write_error)?;
        let mut dept_docs = Vec::new();
        for d in departments {
            let id = d.id.clone().unwrap_or_else(|| ObjectId::new().to_hex());
            let n = employees
                .iter()
                .filter(|e| e.department_id.as_deref() == Some(id.as_str()))
                .count();
            dept_docs.push(to_doc(
                DEPARTMENT,
                &Department {
                    id: Some(id),
                    company_id: Some(cid.clone()),
                    emp_num: i32::try_from(n).unwrap_or(i32::MAX),
                    ..d.clone()
                },
            )?);
        }
        if !dept_docs.is_empty() {
            self.coll(DEPARTMENT)
                .insert_many(dept_docs)
                .await
                .map_err(write_error)?;
        }
        let mut emp_docs = Vec::new();
        for e in employees {
            emp_docs.push(to_doc(
                EMPLOYEE,
                &Employee {
                    id: Some(e.id.clone().unwrap_or_else(|| ObjectId::new().to_hex())),
                    company_id: Some(cid.clone()),
                    ..e.clone()
                },
            )?);
        }
        if !emp_docs.is_empty() {
            self.coll(EMPLOYEE)
                .insert_many(emp_docs)
                .await
                .map_err(write_error)?;
        }
        Ok(())
    }

    async fn get_company(&self, company_id: &str) -> StoreResult<Option<Company>> {
        let Some(id) = oid(company_id) else {
            return Ok(None);
        };
        self.find_one(COMPANY, doc! { "_id": id }).await
    }

    async fn update_company(
        &self,
        company_id: &str,
        patch: &Patch,
    ) -> StoreResult<Option<Company>> {
        let Some(id) = oid(company_id) else {
            return Ok(None);
        };
        if patch.is_empty() {
            return self.get_company(company_id).await;
        }
        let updated = self
            .coll(COMPANY)
            .find_one_and_update(doc! { "_id": id }, patch_to_update(patch))
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        updated.map(|d| from_doc(COMPANY, d)).transpose()
    }

    async fn rename_company(&self, company_id: &str, name: &str) -> StoreResult<Option<Company>> {
        let Some(id) = oid(company_id) else {
            return Ok(None);
        };
        if self.company_name_taken(name, Some(id)).await? {
            return Err(StoreError::Duplicate(format!("company name {name}")));
        }
        let updated = self
            .coll(COMPANY)
            .find_one_and_update(doc! { "_id": id }, doc! { "$set": { "companyName": name } })
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        if updated.is_some() {
            self.coll(DEPARTMENT)
                .update_many(
                    doc! { "companyId": id, "type": 1 },
                    doc! { "$set": { "departName": name } },
                )
                .await
                .map_err(write_error)?;
        }
        updated.map(|d| from_doc(COMPANY, d)).transpose()
    }

    async fn insert_department(&self, department: &Department) -> StoreResult<()> {
        let company = department
            .company_id
            .as_deref()
            .and_then(oid)
            .ok_or_else(|| StoreError::Backend("department without a valid companyId".into()))?;
        if self
            .dept_name_taken(company, &department.depart_name, None)
            .await?
        {
            return Err(StoreError::Duplicate(format!(
                "department name {}",
                department.depart_name
            )));
        }
        let d = Department {
            id: Some(
                department
                    .id
                    .clone()
                    .unwrap_or_else(|| ObjectId::new().to_hex()),
            ),
            emp_num: 0,
            ..department.clone()
        };
        self.coll(DEPARTMENT)
            .insert_one(to_doc(DEPARTMENT, &d)?)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn get_department(&self, department_id: &str) -> StoreResult<Option<Department>> {
        let Some(id) = oid(department_id) else {
            return Ok(None);
        };
        self.find_one(DEPARTMENT, doc! { "_id": id }).await
    }

    async fn rename_department(
        &self,
        department_id: &str,
        name: &str,
    ) -> StoreResult<Option<Department>> {
        let Some(id) = oid(department_id) else {
            return Ok(None);
        };
        let Some(dept) = self.get_department(department_id).await? else {
            return Ok(None);
        };
        if let Some(company) = dept.company_id.as_deref().and_then(oid) {
            if self.dept_name_taken(company, name, Some(id)).await? {
                return Err(StoreError::Duplicate(format!("department name {name}")));
            }
        }
        let updated = self
            .coll(DEPARTMENT)
            .find_one_and_update(doc! { "_id": id }, doc! { "$set": { "departName": name } })
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        updated.map(|d| from_doc(DEPARTMENT, d)).transpose()
    }

    async fn departments_of(&self, company_id: &str) -> StoreResult<Vec<Department>> {
        let Some(id) = oid(company_id) else {
            return Ok(Vec::new());
        };
        self.find_all(DEPARTMENT, doc! { "companyId": id }).await
    }

    async fn delete_department(&self, department_id: &str) -> StoreResult<Option<u64>> {
        let Some(id) = oid(department_id) else {
            return Ok(None);
        };
        let Some(dept) = self.get_department(department_id).await? else {
            return Ok(None);
        };
        let removed = self
            .coll(EMPLOYEE)
            .delete_many(doc! { "departmentId": id })
            .await
            .map_err(backend)?
            .deleted_count;
        self.coll(DEPARTMENT)
            .delete_one(doc! { "_id": id })
            .await
            .map_err(backend)?;
        if let Some(company) = dept.company_id.as_deref().and_then(oid) {
            if removed > 0 {
                let by = -i32::try_from(removed).unwrap_or(i32::MAX);
                self.inc_emp_num(COMPANY, company, by).await?;
            }
        }
        Ok(Some(removed))
    }

    async fn add_employees(
        &self,
        company_id: &str,
        department_id: &str,
        employees: &[Employee],
    ) -> StoreResult<Vec<i32>> {
        let (Some(company), Some(dept)) = (oid(company_id), oid(department_id)) else {
            return Ok(Vec::new());
        };
        if !self.dept_in_company(dept, company).await? {
            return Ok(Vec::new());
        }
        let mut added = Vec::new();
        for e in employees {
            let mut body = to_doc(
                EMPLOYEE,
                &Employee {
                    id: Some(e.id.clone().unwrap_or_else(|| ObjectId::new().to_hex())),
                    company_id: Some(company_id.to_string()),
                    department_id: Some(department_id.to_string()),
                    ..e.clone()
                },
            )?;
            // The filter's fields come from the filter on insert.
            body.remove("companyId");
            body.remove("userId");
            let result = self
                .coll(EMPLOYEE)
                .update_one(
                    doc! { "companyId": company, "userId": e.user_id },
                    doc! { "$setOnInsert": body },
                )
                .upsert(true)
                .await;
            match result {
                Ok(r) if r.upserted_id.is_some() => added.push(e.user_id),
                Ok(_) => {}
                // A concurrent add of the same user won: not ours to count.
                Err(err) if error_code(&err) == Some(DUPLICATE_KEY) => {}
                Err(err) => return Err(backend(err)),
            }
        }
        if !added.is_empty() {
            let n = i32::try_from(added.len()).unwrap_or(i32::MAX);
            self.inc_emp_num(COMPANY, company, n).await?;
            self.inc_emp_num(DEPARTMENT, dept, n).await?;
        }
        Ok(added)
    }

    async fn get_employee(&self, company_id: &str, user_id: i32) -> StoreResult<Option<Employee>> {
        let Some(company) = oid(company_id) else {
            return Ok(None);
        };
        self.find_one(EMPLOYEE, doc! { "companyId": company, "userId": user_id })
            .await
    }

    async fn get_employee_by_id(&self, employee_id: &str) -> StoreResult<Option<Employee>> {
        let Some(id) = oid(employee_id) else {
            return Ok(None);
        };
        self.find_one(EMPLOYEE, doc! { "_id": id }).await
    }

    async fn employees_of_company(
        &self,
        company_id: &str,
        role: Option<i32>,
    ) -> StoreResult<Vec<Employee>> {
        let Some(company) = oid(company_id) else {
            return Ok(Vec::new());
        };
        let mut filter = doc! { "companyId": company };
        if let Some(r) = role {
            filter.insert("role", r);
        }
        self.find_all(EMPLOYEE, filter).await
    }

    async fn employees_of_department(&self, department_id: &str) -> StoreResult<Vec<Employee>> {
        let Some(dept) = oid(department_id) else {
            return Ok(Vec::new());
        };
        self.find_all(EMPLOYEE, doc! { "departmentId": dept }).await
    }

    async fn employments_of(&self, user_id: i32) -> StoreResult<Vec<Employee>> {
        self.find_all(EMPLOYEE, doc! { "userId": user_id }).await
    }

    async fn update_employee(
        &self,
        company_id: &str,
        user_id: i32,
        patch: &Patch,
    ) -> StoreResult<Option<Employee>> {
        let Some(company) = oid(company_id) else {
            return Ok(None);
        };
        if patch.is_empty() {
            return self.get_employee(company_id, user_id).await;
        }
        let mut update = patch_to_update(patch);
        if let Ok(set) = update.get_document_mut("$set") {
            oidify(set);
        }
        let updated = self
            .coll(EMPLOYEE)
            .find_one_and_update(doc! { "companyId": company, "userId": user_id }, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        updated.map(|d| from_doc(EMPLOYEE, d)).transpose()
    }

    async fn remove_employees(
        &self,
        company_id: &str,
        department_id: Option<&str>,
        user_ids: &[i32],
    ) -> StoreResult<u64> {
        let Some(company) = oid(company_id) else {
            return Ok(0);
        };
        let dept = match department_id {
            Some(d) => match oid(d) {
                Some(o) => Some(o),
                None => return Ok(0),
            },
            None => None,
        };
        let mut removed = 0u64;
        for &uid in user_ids {
            let mut filter = doc! { "companyId": company, "userId": uid };
            if let Some(d) = dept {
                filter.insert("departmentId", d);
            }
            let gone = self
                .coll(EMPLOYEE)
                .find_one_and_delete(filter)
                .await
                .map_err(backend)?;
            let Some(gone) = gone else { continue };
            removed += 1;
            self.inc_emp_num(COMPANY, company, -1).await?;
            if let Ok(d) = gone.get_object_id("departmentId") {
                self.inc_emp_num(DEPARTMENT, d, -1).await?;
            }
        }
        Ok(removed)
    }

    async fn move_employee(
        &self,
        company_id: &str,
        user_id: i32,
        department_id: &str,
    ) -> StoreResult<Option<Employee>> {
        let (Some(company), Some(new_dept)) = (oid(company_id), oid(department_id)) else {
            return Ok(None);
        };
        if !self.dept_in_company(new_dept, company).await? {
            return Ok(None);
        }
        for _ in 0..MOVE_ATTEMPTS {
            let Some(current) = self
                .coll(EMPLOYEE)
                .find_one(doc! { "companyId": company, "userId": user_id })
                .await
                .map_err(backend)?
            else {
                return Ok(None);
            };
            let old = current.get("departmentId").cloned().unwrap_or(Bson::Null);
            if old == Bson::ObjectId(new_dept) {
                return Ok(Some(from_doc(EMPLOYEE, current)?));
            }
            let id = current.get("_id").cloned().unwrap_or(Bson::Null);
            let updated = self
                .coll(EMPLOYEE)
                .find_one_and_update(
                    doc! { "_id": id, "departmentId": old.clone() },
                    doc! { "$set": { "departmentId": new_dept } },
                )
                .return_document(ReturnDocument::After)
                .await
                .map_err(write_error)?;
            if let Some(d) = updated {
                if let Bson::ObjectId(o) = old {
                    self.inc_emp_num(DEPARTMENT, o, -1).await?;
                }
                self.inc_emp_num(DEPARTMENT, new_dept, 1).await?;
                return Ok(Some(from_doc(EMPLOYEE, d)?));
            }
        }
        Err(StoreError::Backend(format!(
            "employee {user_id} kept moving; gave up after {MOVE_ATTEMPTS} attempts"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_as_object_ids() {
        let e = Employee {
            id: Some("5c8f3f0d1b2a3c4d5e6f7a8b".into()),
            user_id: 7,
            department_id: Some("5c8f3f0d1b2a3c4d5e6f7a8c".into()),
            company_id: Some("5c8f3f0d1b2a3c4d5e6f7a8d".into()),
            role: 3,
            position: "创建者".into(),
            ..Employee::default()
        };
        let d = to_doc(EMPLOYEE, &e).unwrap();
        assert!(matches!(d.get("_id"), Some(Bson::ObjectId(_))));
        assert!(matches!(d.get("departmentId"), Some(Bson::ObjectId(_))));
        assert!(matches!(d.get("userId"), Some(Bson::Int32(7))));
        let back: Employee = from_doc(EMPLOYEE, d).unwrap();
        assert_eq!(back, e);
        let c = Company {
            id: Some("5c8f3f0d1b2a3c4d5e6f7a8d".into()),
            root_dpart_id: vec!["5c8f3f0d1b2a3c4d5e6f7a8c".into()],
            create_time: 1,
            ..Company::default()
        };
        let d = to_doc(COMPANY, &c).unwrap();
        assert!(matches!(
            d.get_array("rootDpartId").unwrap()[0],
            Bson::ObjectId(_)
        ));
        assert!(matches!(d.get("createTime"), Some(Bson::Int64(1))));
        assert_eq!(from_doc::<Company>(COMPANY, d).unwrap(), c);
    }
}
