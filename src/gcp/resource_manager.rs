//! Resource Manager: the project a key lives in, and the IAM policies of the containers above
//! it (whose audit configs decide whether KMS usage was logged at all, and whose bindings are
//! inherited by the key).

use google_cloud_gax::options::RequestOptionsBuilder as _;
use google_cloud_iam_v1::model::GetPolicyOptions;

use super::error::GcpError;
use super::kms::POLICY_VERSION;
use super::types::{Folder, IamPolicy, Project};
use super::{Gcp, convert};

/// `"x"` or `"prefix/x"` → `"prefix/x"`.
fn qualified(prefix: &str, id: &str) -> String {
    let id = id.trim();
    if id.starts_with(&format!("{prefix}/")) {
        id.to_string()
    } else {
        format!("{prefix}/{id}")
    }
}

impl Gcp {
    /// A project by id (`my-project`), number, or name (`projects/…`).
    pub async fn get_project(&self, project_id_or_name: &str) -> Result<Project, GcpError> {
        let name = qualified("projects", project_id_or_name);
        let p = self
            .projects
            .get_project()
            .set_name(name.clone())
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, &name))?;
        Ok(convert::project(&p))
    }

    /// A folder (`123` or `folders/123`): its parent leads to the organization.
    pub async fn get_folder(&self, folder: &str) -> Result<Folder, GcpError> {
        let name = qualified("folders", folder);
        let f = self
            .folders
            .get()
            .await?
            .get_folder()
            .set_name(name.clone())
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, &name))?;
        Ok(convert::folder(&f))
    }

    /// IAM policy of a project (id, number or `projects/…`). `getIamPolicy` is a POST in
    /// Resource Manager v3 but a read, so it is retried.
    pub async fn get_project_iam_policy(&self, project: &str) -> Result<IamPolicy, GcpError> {
        let resource = qualified("projects", project);
        let p = self
            .projects
            .get_iam_policy()
            .set_resource(resource.clone())
            .set_options(GetPolicyOptions::new().set_requested_policy_version(POLICY_VERSION))
            .with_idempotency(true)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, &resource))?;
        Ok(convert::iam_policy(&p))
    }

    /// IAM policy of a folder (`123` or `folders/123`).
    pub async fn get_folder_iam_policy(&self, folder: &str) -> Result<IamPolicy, GcpError> {
        let resource = qualified("folders", folder);
        let p = self
            .folders
            .get()
            .await?
            .get_iam_policy()
            .set_resource(resource.clone())
            .set_options(GetPolicyOptions::new().set_requested_policy_version(POLICY_VERSION))
            .with_idempotency(true)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, &resource))?;
        Ok(convert::iam_policy(&p))
    }

    /// IAM policy of an organization (`123` or `organizations/123`).
    pub async fn get_organization_iam_policy(&self, org: &str) -> Result<IamPolicy, GcpError> {
        let resource = qualified("organizations", org);
        let p = self
            .organizations
            .get()
            .await?
            .get_iam_policy()
            .set_resource(resource.clone())
            .set_options(GetPolicyOptions::new().set_requested_policy_version(POLICY_VERSION))
            .with_idempotency(true)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, &resource))?;
        Ok(convert::iam_policy(&p))
    }
}
