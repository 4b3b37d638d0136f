//! Compose's names and labels, exactly as Compose v2 writes them, so that
//! `rrun compose` and docker-compose (1.29 or v2) find each other's
//! containers, networks and volumes: by labels, never by names.

use rrun_compose::model::Service;
use sha2::{Digest, Sha256};

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const VERSION: &str = "com.docker.compose.version";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";

/// The Compose version rrun's labels claim (Compose v2's label format).
pub const COMPOSE_VERSION: &str = "2.29.0";

/// `<project>-<service>-<n>`, Compose v2's container name.
pub fn container_name(project: &str, service: &str, number: u32) -> String {
    format!("{project}-{service}-{number}")
}

/// `<project>-<service>-run-<hex>`, a one-off `run` container's name.
pub fn oneoff_name(project: &str, service: &str, hex: &str) -> String {
    format!("{project}-{service}-run-{hex}")
}

/// The filter value that finds a project's objects: `label=<this>`.
pub fn project_filter(project: &str) -> String {
    format!("{PROJECT}={project}")
}

/// A sha256 of the service's normalized configuration, without what
/// changes no container (the replica count, the pull policy), so that a
/// changed `environment` recreates that service and only that one.
pub fn config_hash(service: &Service) -> String {
    let mut s = service.clone();
    s.replicas = 1;
    s.pull_policy = None;
    s.build = None;
    // Serializing a plain data struct cannot fail; an empty text would
    // only make every container look changed, never crash.
    let text = serde_json::to_vec(&s).unwrap_or_default();
    hex::encode(Sha256::digest(&text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    #[test]
    fn names_are_compose_v2s() {
        assert_eq!(container_name("p", "db", 1), "p-db-1");
        assert_eq!(oneoff_name("p", "db", "ab12"), "p-db-run-ab12");
        assert_eq!(project_filter("p"), "com.docker.compose.project=p");
    }

    #[test]
    fn the_hash_follows_the_environment_not_the_scale() {
        let a = Service {
            name: "db".into(),
            image: Some("busybox".into()),
            replicas: 1,
            ..Default::default()
        };
        let mut scaled = a.clone();
        scaled.replicas = 3;
        assert_eq!(config_hash(&a), config_hash(&scaled));
        let mut env = a.clone();
        env.environment = IndexMap::from([("A".to_string(), Some("1".to_string()))]);
        assert_ne!(config_hash(&a), config_hash(&env));
        assert_eq!(config_hash(&a).len(), 64);
    }
}
