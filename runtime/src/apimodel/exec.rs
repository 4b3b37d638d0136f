//! `GET /exec/{id}/json` as dockerd sends it. bollard-stubs'
//! `ExecInspectResponse` omits an unset `ExitCode`; dockerd sends `null`
//! until the process has exited, and clients (docker-py's `exec_inspect`)
//! index it.

use serde::{Deserialize, Serialize};

pub use crate::apimodel::models::ProcessConfig;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecInspect {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Running")]
    pub running: bool,
    /// `null` until the process has exited.
    #[serde(rename = "ExitCode")]
    pub exit_code: Option<i64>,
    #[serde(rename = "ProcessConfig")]
    pub process_config: ProcessConfig,
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
    #[serde(rename = "OpenStderr")]
    pub open_stderr: bool,
    #[serde(rename = "OpenStdout")]
    pub open_stdout: bool,
    #[serde(rename = "CanRemove")]
    pub can_remove: bool,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    #[serde(rename = "DetachKeys")]
    pub detach_keys: String,
    #[serde(rename = "Pid")]
    pub pid: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_fresh_exec_has_a_null_exit_code_and_every_field() {
        let e = ExecInspect {
            id: "e1".into(),
            container_id: "c1".into(),
            process_config: ProcessConfig {
                tty: Some(false),
                entrypoint: Some("true".into()),
                arguments: Some(vec![]),
                privileged: Some(false),
                user: Some(String::new()),
            },
            ..Default::default()
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({
                "ID": "e1", "Running": false, "ExitCode": null,
                "ProcessConfig": {"tty": false, "entrypoint": "true", "arguments": [],
                                  "privileged": false, "user": ""},
                "OpenStdin": false, "OpenStderr": false, "OpenStdout": false,
                "CanRemove": false, "ContainerID": "c1", "DetachKeys": "", "Pid": 0,
            })
        );
        let b: crate::apimodel::models::ExecInspectResponse = serde_json::from_value(v).unwrap();
        assert_eq!(b.exit_code, None);
        let done = ExecInspect {
            exit_code: Some(3),
            ..e
        };
        assert_eq!(serde_json::to_value(&done).unwrap()["ExitCode"], 3);
    }
}
