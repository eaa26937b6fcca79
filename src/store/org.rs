//! Organisation ports (API database): `company`, `department`, `employee`
//! (spec/reference-server.md 4.5).
//!
//! Ids are ObjectId hex strings chosen by the caller (the company tree is built with its ids
//! known up front: the company names its root department, departments name their parent). Every
//! write that adds, removes or moves employees keeps `empNum` of the company and of the
//! departments involved exact, also under concurrent calls: SQLite recounts inside the write's
//! transaction, MongoDB `$inc`s by the number of writes that took effect.

use async_trait::async_trait;

use super::{Patch, StoreResult};
use crate::documents::{Company, Department, Employee};

/// Company, department and employee storage.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Inserts a company with its departments and employees (all ids given). `empNum` of the
    /// company and of each department are set from the employees given, whatever the documents
    /// say. `Duplicate` when an active company (`deleteUserId` 0) already has this name.
    async fn create_company(
        &self,
        company: &Company,
        departments: &[Department],
        employees: &[Employee],
    ) -> StoreResult<()>;
    /// The company with this id (deleted ones too).
    async fn get_company(&self, company_id: &str) -> StoreResult<Option<Company>>;
    /// Applies a partial update to a company (never its `companyName`: see `rename_company`).
    async fn update_company(&self, company_id: &str, patch: &Patch)
        -> StoreResult<Option<Company>>;
    /// Renames a company and its root departments (type 1). `Duplicate` when another active
    /// company has the name.
    async fn rename_company(&self, company_id: &str, name: &str) -> StoreResult<Option<Company>>;

    /// Inserts a department (id given, `empNum` 0). `Duplicate` when its company already has a
    /// department of this name.
    async fn insert_department(&self, department: &Department) -> StoreResult<()>;
    /// The department with this id.
    async fn get_department(&self, department_id: &str) -> StoreResult<Option<Department>>;
    /// Renames a department; `Duplicate` when another department of its company has the name.
    async fn rename_department(
        &self,
        department_id: &str,
        name: &str,
    ) -> StoreResult<Option<Department>>;
    /// Departments of a company in creation order.
    async fn departments_of(&self, company_id: &str) -> StoreResult<Vec<Department>>;
    /// Deletes a department and its employees, lowering the company's `empNum` by the number
    /// removed. Returns that number (None when there was no such department).
    async fn delete_department(&self, department_id: &str) -> StoreResult<Option<u64>>;

    /// Adds employees to a department of a company, skipping users already employed by the
    /// company, and raises the company's and the department's `empNum` by the number added.
    /// Returns the userIds added (none when the department is not the company's).
    async fn add_employees(
        &self,
        company_id: &str,
        department_id: &str,
        employees: &[Employee],
    ) -> StoreResult<Vec<i32>>;
    /// A user's employee document in a company.
    async fn get_employee(&self, company_id: &str, user_id: i32) -> StoreResult<Option<Employee>>;
    /// The employee document with this id.
    async fn get_employee_by_id(&self, employee_id: &str) -> StoreResult<Option<Employee>>;
    /// Employees of a company in insertion order, optionally only those with this role.
    async fn employees_of_company(
        &self,
        company_id: &str,
        role: Option<i32>,
    ) -> StoreResult<Vec<Employee>>;
    /// Employees of a department in insertion order.
    async fn employees_of_department(&self, department_id: &str) -> StoreResult<Vec<Employee>>;
    /// Every employee document of a user (one per company), in insertion order.
    async fn employments_of(&self, user_id: i32) -> StoreResult<Vec<Employee>>;
    /// Applies a partial update (`role`, `position`, …) to a user's employee document; never
    /// touches the fields it does not name.
    async fn update_employee(
        &self,
        company_id: &str,
        user_id: i32,
        patch: &Patch,
    ) -> StoreResult<Option<Employee>>;
    /// Removes these users' employee documents from a company (only those in `department_id`
    /// when given) and lowers `empNum` of the company and of each department by the number
    /// removed from it. Returns how many were removed.
    async fn remove_employees(
        &self,
        company_id: &str,
        department_id: Option<&str>,
        user_ids: &[i32],
    ) -> StoreResult<u64>;
    /// Moves a user's employee document to another department of the same company, moving one
    /// from the old department's `empNum` to the new one's. None when the user is not an
    /// employee or the department is not the company's.
    async fn move_employee(
        &self,
        company_id: &str,
        user_id: i32,
        department_id: &str,
    ) -> StoreResult<Option<Employee>>;
}
