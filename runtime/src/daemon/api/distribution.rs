//! `GET /distribution/{name}/json`: what the registry holds under a name,
//! without pulling it (docker-py's `images.get_registry_data`).

use bollard_stubs::models::{DistributionInspect, OciDescriptor, OciPlatform};

use super::*;
use crate::daemon::{ApiError, ApiResult, Daemon, ImageError};
use rrun_image::registry::RegistryError;

pub(super) async fn inspect(
    State(d): D,
    Path(p): Params,
    headers: axum::http::HeaderMap,
) -> ApiResult<Json<DistributionInspect>> {
    let rest = p.get("rest").cloned().unwrap_or_default();
    let Some(name) = rest.strip_suffix("/json").filter(|n| !n.is_empty()) else {
        return Err(ApiError::not_found(format!(
            "page not found: /distribution/{rest}"
        )));
    };
    let reference = rrun_image::Reference::parse(name)
        .map_err(|e| ApiError::bad(format!("invalid reference format: {name}: {e}")))?;
    let auth = headers.get("X-Registry-Auth").and_then(|v| v.to_str().ok());
    let cred = crate::daemon::push::registry_auth_header(auth)?;
    blocking(move || d.distribution_inspect(&reference, cred))
        .await
        .map(Json)
}

impl Daemon {
    /// [`rrun_image::distribution::inspect`] with the request's own
    /// credentials, if it sent any; Docker's shape.
    fn distribution_inspect(
        &self,
        reference: &rrun_image::Reference,
        cred: Option<rrun_image::credentials::Credential>,
    ) -> Result<DistributionInspect, ImageError> {
        let own = self.registry_for(reference.domain(), cred);
        let client = own.as_ref().unwrap_or(&self.registry);
        let data = rrun_image::distribution::inspect(client, reference).map_err(|e| match e {
            rrun_image::pull::PullError::Registry(RegistryError::NotFound { .. }) => {
                ImageError::NoSuchManifest(reference.to_string())
            }
            rrun_image::pull::PullError::Registry(RegistryError::Unauthorized { .. }) => {
                ImageError::RegistryDenied(e.to_string())
            }
            e => ImageError::internal(e),
        })?;
        Ok(DistributionInspect {
            descriptor: OciDescriptor {
                media_type: Some(data.media_type),
                digest: Some(data.digest.to_string()),
                size: Some(data.size as i64),
                ..Default::default()
            },
            platforms: data
                .platforms
                .into_iter()
                .map(|p| OciPlatform {
                    architecture: Some(p.architecture),
                    os: Some(p.os),
                    os_version: p.os_version,
                    variant: p.variant,
                    ..Default::default()
                })
                .collect(),
        })
    }
}
