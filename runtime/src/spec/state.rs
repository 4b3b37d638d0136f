//! Container status as the OCI runtime spec defines it, and the lifecycle
//! operations each status allows.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The status of a container (OCI runtime spec, "State").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created: `create` has not returned yet.
    Creating,
    /// Set up, waiting for `start`; the user program has not run.
    Created,
    /// The user program runs.
    Running,
    /// Every process of the container is frozen (`pause`).
    Paused,
    /// The container's process has exited.
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// A lifecycle operation on an existing container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Start,
    Kill,
    Delete { force: bool },
    Exec,
    Pause,
    Resume,
}

/// Why an operation is refused in the current status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {op} container {id}: container is {status}{hint}")]
pub struct NotAllowed {
    pub id: String,
    pub op: &'static str,
    pub status: Status,
    pub hint: &'static str,
}

/// Decides whether `op` is allowed on a container in `status`, as the OCI
/// runtime spec (and runc) has it.
pub fn check(id: &str, status: Status, op: Operation) -> Result<(), NotAllowed> {
    let refuse = |op: &'static str, hint: &'static str| {
        Err(NotAllowed {
            id: id.to_string(),
            op,
            status,
            hint,
        })
    };
    match (op, status) {
        (Operation::Start, Status::Created) => Ok(()),
        (Operation::Start, Status::Stopped) => refuse("start", " (it has already run)"),
        (Operation::Start, _) => refuse("start", ""),
        (Operation::Kill, Status::Created | Status::Running | Status::Paused) => Ok(()),
        // containerd's shim reads "container not running" as "already gone".
        (Operation::Kill, _) => refuse("kill", " (container not running)"),
        // runc deletes a created container without --force: its user
        // program never ran, so nothing of the user's is interrupted.
        (Operation::Delete { .. }, Status::Stopped | Status::Created) => Ok(()),
        (Operation::Delete { force: true }, _) => Ok(()),
        (Operation::Delete { force: false }, _) => {
            refuse("delete", " (stop it first, or use --force)")
        }
        (Operation::Exec, Status::Running | Status::Created) => Ok(()),
        (Operation::Exec, _) => refuse("exec into", " (it is not running)"),
        (Operation::Pause, Status::Running) => Ok(()),
        (Operation::Pause, _) => refuse("pause", " (container not running)"),
        (Operation::Resume, Status::Paused) => Ok(()),
        (Operation::Resume, _) => refuse("resume", " (it is not paused)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_only_from_created() {
        assert!(check("c", Status::Created, Operation::Start).is_ok());
        for s in [Status::Creating, Status::Running, Status::Stopped] {
            let err = check("c", s, Operation::Start).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("cannot start container c: container is"),
                "{err}"
            );
        }
    }

    #[test]
    fn delete_running_needs_force() {
        let err = check("web", Status::Running, Operation::Delete { force: false }).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot delete container web: container is running (stop it first, or use --force)"
        );
        assert!(check("web", Status::Running, Operation::Delete { force: true }).is_ok());
        assert!(check("web", Status::Stopped, Operation::Delete { force: false }).is_ok());
        assert!(check("web", Status::Created, Operation::Delete { force: false }).is_ok());
    }

    #[test]
    fn kill_and_exec_need_a_live_process() {
        assert!(check("c", Status::Running, Operation::Kill).is_ok());
        assert!(check("c", Status::Created, Operation::Kill).is_ok());
        assert!(check("c", Status::Stopped, Operation::Kill).is_err());
        assert!(check("c", Status::Stopped, Operation::Exec).is_err());
        assert!(check("c", Status::Running, Operation::Exec).is_ok());
    }

    #[test]
    fn a_paused_container_can_be_killed_and_resumed_only() {
        assert!(check("c", Status::Paused, Operation::Kill).is_ok());
        assert!(check("c", Status::Paused, Operation::Resume).is_ok());
        assert!(check("c", Status::Paused, Operation::Exec).is_err());
        assert!(check("c", Status::Paused, Operation::Pause).is_err());
        assert!(check("c", Status::Running, Operation::Resume).is_err());
        assert!(check("c", Status::Paused, Operation::Delete { force: false }).is_err());
        // The words containerd's shim matches to call a kill harmless.
        let err = check("c", Status::Stopped, Operation::Kill).unwrap_err();
        assert!(err.to_string().contains("container not running"), "{err}");
    }

    #[test]
    fn status_serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&Status::Created).unwrap(),
            "\"created\""
        );
        assert_eq!(Status::Running.to_string(), "running");
    }
}
