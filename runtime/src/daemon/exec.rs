//! Exec instances (`docker exec`): create, start (attached or detached),
//! resize, inspect.
//!
//! An exec runs under its own helper ([`crate::shim::exec`]), started by
//! the daemon with two socket pairs: the data socket (the process's stdio,
//! already framed by the helper) and the control socket (events up, resize
//! lines down). The helper outlives the daemon, so the process does too;
//! exec records live in memory only, as Docker's do.

use std::collections::HashMap;
use std::io::BufRead;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oci_spec::runtime::{BoxBuilder, Process, UserBuilder};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::spec;
use super::store::{self, Container};
use super::{ContainerError, Daemon, ExecError};
use crate::apimodel::exec::{ExecInspect, ProcessConfig};
use crate::shim::exec::{Event, ExecShimArgs, PROCESS_FILE};

/// `POST /containers/{id}/exec` body (Docker's `ExecConfig`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecConfig {
    #[serde(default)]
    pub attach_stdin: bool,
    #[serde(default)]
    pub attach_stdout: bool,
    #[serde(default)]
    pub attach_stderr: bool,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub detach_keys: String,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub working_dir: String,
    /// `[height, width]` (API 1.42+).
    #[serde(default)]
    pub console_size: Option<[u16; 2]>,
}

/// `POST /exec/{id}/start` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartBody {
    #[serde(default)]
    pub detach: bool,
    /// Absent (or null): the exec's own `Tty`.
    #[serde(default)]
    pub tty: Option<bool>,
}

/// Where an exec is in its life.
#[derive(Debug, Clone, Default)]
pub struct ExecState {
    pub started: bool,
    pub running: bool,
    pub pid: i32,
    pub exit_code: Option<i32>,
    /// Why it could not run (sent to an attached client).
    pub error: String,
}

impl ExecState {
    fn settled(&self) -> bool {
        self.running || self.exit_code.is_some()
    }
}

pub struct Exec {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    state: watch::Sender<ExecState>,
    /// The daemon's end of the helper's control socket (resize lines).
    ctl: Mutex<Option<UnixStream>>,
}

impl Exec {
    pub fn state(&self) -> ExecState {
        self.state.borrow().clone()
    }
    pub fn subscribe(&self) -> watch::Receiver<ExecState> {
        self.state.subscribe()
    }
    /// Records that the process could not run, and why.
    pub fn fail_now(&self, msg: String) {
        fail(self, msg);
    }
}

/// The daemon's exec table.
#[derive(Default)]
pub struct Execs {
    map: Mutex<HashMap<String, Arc<Exec>>>,
}

fn not_running(id: &str) -> ExecError {
    ContainerError::NotRunning(id.to_string()).into()
}

/// Docker's exit code for an exec that could not start: 127 when the
/// program is not there, else 126.
pub fn failed_start_code(msg: &str) -> i32 {
    match super::start_error_code(msg) {
        127 => 127,
        _ => 126,
    }
}

impl Daemon {
    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&self, name: &str, config: ExecConfig) -> Result<String, ExecError> {
        // The process joins the container's cgroups at start: see
        // linux::attach_warm.
        crate::linux::attach_warm::warm();
        let c = self.container(name)?;
        if !c.state.running {
            return Err(not_running(&c.id));
        }
        if c.state.status == super::containers::pause::PAUSED {
            return Err(ExecError::ContainerPaused(c.id));
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(ExecError::NoCommand);
        }
        crate::apimodel::detach::parse(&config.detach_keys).map_err(ExecError::InvalidOption)?;
        let id = store::new_id();
        let (tx, _) = watch::channel(ExecState::default());
        let e = Arc::new(Exec {
            id: id.clone(),
            container_id: c.id.clone(),
            config,
            state: tx,
            ctl: Mutex::new(None),
        });
        self.execs.map.lock().unwrap().insert(id.clone(), e);
        Ok(id)
    }

    /// Drops the exec records of a removed container.
    pub fn exec_forget(&self, container_id: &str) {
        self.execs
            .map
            .lock()
            .unwrap()
            .retain(|_, e| e.container_id != container_id);
    }

    /// Drops one exec record (a healthcheck's probe, once it is done).
    pub(crate) fn exec_drop(&self, exec_id: &str) {
        self.execs.map.lock().unwrap().remove(exec_id);
    }

    /// `ExecIDs` of a container's inspect: its running execs, or null.
    pub fn exec_ids(&self, container_id: &str) -> Option<Vec<String>> {
        let ids: Vec<String> = self
            .execs
            .map
            .lock()
            .unwrap()
            .values()
            .filter(|e| e.container_id == container_id && e.state().running)
            .map(|e| e.id.clone())
            .collect();
        (!ids.is_empty()).then_some(ids)
    }

    pub fn exec_get(&self, id: &str) -> Result<Arc<Exec>, ExecError> {
        self.execs
            .map
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| ExecError::NoSuchExec(id.to_string()))
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, id: &str) -> Result<ExecInspect, ExecError> {
        let e = self.exec_get(id)?;
        let s = e.state();
        let cmd = e.config.cmd.clone().unwrap_or_default();
        Ok(ExecInspect {
            id: e.id.clone(),
            running: s.running,
            exit_code: s.exit_code.map(i64::from),
            process_config: ProcessConfig {
                tty: Some(e.config.tty),
                entrypoint: Some(cmd.first().cloned().unwrap_or_default()),
                arguments: Some(cmd.iter().skip(1).cloned().collect()),
                privileged: Some(e.config.privileged),
                user: Some(e.config.user.clone()),
            },
            open_stdin: e.config.attach_stdin,
            open_stderr: e.config.attach_stderr,
            open_stdout: e.config.attach_stdout,
            can_remove: false,
            container_id: e.container_id.clone(),
            detach_keys: e.config.detach_keys.clone(),
            pid: i64::from(s.pid),
        })
    }

    /// Checks an exec can start now and marks it started (so a second
    /// start is refused); its container must run.
    pub fn exec_claim(&self, id: &str) -> Result<(Arc<Exec>, Container), ExecError> {
        let e = self.exec_get(id)?;
        let c = self.container(&e.container_id)?;
        if !c.state.running {
            return Err(not_running(&c.id));
        }
        let mut refused = None;
        e.state.send_if_modified(|s| {
            if s.started {
                refused = Some(if s.running {
                    ExecError::AlreadyRunning(id.to_string())
                } else {
                    ExecError::AlreadyRan(id.to_string())
                });
                return false;
            }
            s.started = true;
            true
        });
        match refused {
            Some(e) => Err(e),
            None => Ok((e, c)),
        }
    }

    /// Starts the helper (blocking): returns the daemon's end of the data
    /// socket when attached. The exec's state follows the helper's events.
    pub fn exec_launch(
        self: &Arc<Self>,
        e: &Arc<Exec>,
        c: &Container,
        attached: bool,
    ) -> Result<Option<UnixStream>, ExecError> {
        let dir = self.dir(&c.id).join("exec").join(&e.id);
        std::fs::create_dir_all(&dir).map_err(ExecError::internal)?;
        let process = match self.exec_process(e, c) {
            Ok(p) => p,
            Err(msg) => {
                fail(e, msg);
                return Ok(None);
            }
        };
        store::atomic_write(
            &dir.join(PROCESS_FILE),
            &serde_json::to_vec_pretty(&process).map_err(ExecError::internal)?,
        )
        .map_err(ExecError::internal)?;
        let (ctl, ctl_child) = UnixStream::pair().map_err(ExecError::internal)?;
        let (data, data_child) = if attached {
            let (a, b) = UnixStream::pair().map_err(ExecError::internal)?;
            (Some(a), Stdio::from(std::os::fd::OwnedFd::from(b)))
        } else {
            (None, Stdio::null())
        };
        let args = ExecShimArgs {
            id: c.id.clone(),
            dir: dir.clone(),
            oci_root: self.opts.exec_root.clone(),
            oci_bin: self.opts.oci_bin.clone(),
            tty: e.config.tty,
            stdin: e.config.attach_stdin,
            stdout: e.config.attach_stdout,
            stderr: e.config.attach_stderr,
            attached,
        };
        let log = std::fs::File::create(dir.join("helper.log")).map_err(ExecError::internal)?;
        let child = self
            .helper_command()
            .args(args.to_args())
            .stdin(data_child)
            .stdout(Stdio::from(std::os::fd::OwnedFd::from(ctl_child)))
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|err| ExecError::Internal(format!("start the exec helper: {err}")))?;
        *e.ctl.lock().unwrap() = ctl.try_clone().ok();
        let e2 = e.clone();
        std::thread::spawn(move || follow_events(e2, ctl, child, &dir));
        Ok(data)
    }

    /// The exec's process.json: the container's process with Docker's exec
    /// options on top. Err is a message for the client (exit code 126).
    fn exec_process(&self, e: &Exec, c: &Container) -> Result<Process, String> {
        let dir = self.dir(&c.id);
        let spec = crate::oci::read_spec(&dir.join("config.json"))
            .map_err(|_| format!("container {} has no readable config.json", c.id))?;
        let user = if e.config.user.is_empty() {
            None
        } else {
            let rootfs = dir.join("rootfs");
            let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).unwrap_or_default();
            Some(
                spec::resolve_user(&e.config.user, &read("etc/passwd"), &read("etc/group"))
                    .map_err(|e| e.to_string())?,
            )
        };
        Ok(build_process(
            spec.process().as_ref(),
            &e.config,
            user,
            &privileged_caps(),
        ))
    }

    /// `POST /exec/{id}/resize?h=&w=`: waits (bounded) for the exec to
    /// start, then sizes its terminal.
    pub async fn exec_resize(&self, id: &str, h: u16, w: u16) -> Result<(), ExecError> {
        let e = self.exec_get(id)?;
        let mut rx = e.subscribe();
        let ready = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| s.settled()))
            .await
            .is_ok();
        if !ready {
            return Err(ExecError::internal(
                "timeout waiting for exec session ready",
            ));
        }
        if !e.config.tty {
            return Ok(());
        }
        let ctl = e
            .ctl
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|s| s.try_clone().ok());
        if let Some(mut s) = ctl {
            use std::io::Write;
            let _ = s.write_all(format!("{h} {w}\n").as_bytes());
        }
        Ok(())
    }
}

fn fail(e: &Exec, msg: String) {
    let code = failed_start_code(&msg);
    e.state.send_modify(|s| {
        s.running = false;
        s.exit_code = Some(code);
        s.error = msg;
    });
}

/// Reads the helper's events until it closes the control socket, then
/// reaps it.
fn follow_events(e: Arc<Exec>, ctl: UnixStream, mut child: std::process::Child, dir: &Path) {
    let mut r = std::io::BufReader::new(ctl);
    let mut line = String::new();
    let mut ended = false;
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        match serde_json::from_str::<Event>(line.trim()) {
            Ok(Event::Started { pid }) => e.state.send_modify(|s| {
                s.running = true;
                s.pid = pid;
            }),
            Ok(Event::Failed { error }) => {
                fail(&e, error);
                ended = true;
            }
            Ok(Event::Exited { exit_code }) => {
                e.state.send_modify(|s| {
                    s.running = false;
                    s.exit_code = Some(exit_code);
                });
                ended = true;
            }
            Err(_) => {}
        }
    }
    *e.ctl.lock().unwrap() = None;
    let _ = child.wait();
    if !ended {
        let why = std::fs::read_to_string(dir.join("helper.log")).unwrap_or_default();
        let why = why.trim();
        fail(
            &e,
            if why.is_empty() {
                "the exec helper died".to_string()
            } else {
                why.to_string()
            },
        );
    }
    tracing::info!(exec = %e.id, container = %e.container_id, exit_code = ?e.state().exit_code, "exec ended");
}

/// What `--privileged` grants: every capability the daemon itself may
/// hold (its bounding set; a host may lack some that the kernel knows).
pub fn privileged_caps() -> Vec<String> {
    let set = caps::read(None, caps::CapSet::Bounding).unwrap_or_else(|_| caps::all());
    let mut v: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}

/// A process with nothing set but the root user and `/` (oci-spec's
/// `Default` is an example shell with rlimits and capabilities).
fn bare_process() -> Process {
    let mut p = Process::default();
    p.set_terminal(None)
        .set_user(Default::default())
        .set_args(None)
        .set_env(None)
        .set_cwd("/".into())
        .set_capabilities(None)
        .set_rlimits(None)
        .set_no_new_privileges(None);
    p
}

/// Pure: the exec's OCI process from the container's (`base`);
/// `all_caps` is what `Privileged` grants.
pub fn build_process(
    base: Option<&Process>,
    cfg: &ExecConfig,
    user: Option<(u32, u32)>,
    all_caps: &[String],
) -> Process {
    let mut p = base.cloned().unwrap_or_else(bare_process);
    p.set_args(Some(cfg.cmd.clone().unwrap_or_default()));
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    for kv in cfg.env.iter().flatten() {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|old| old.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if !cfg.working_dir.is_empty() {
        p.set_cwd(cfg.working_dir.clone().into());
    }
    p.set_terminal(Some(cfg.tty));
    let size = match cfg.console_size {
        Some([h, w]) if cfg.tty && h > 0 && w > 0 => {
            BoxBuilder::default().height(h).width(w).build().ok()
        }
        _ => None,
    };
    p.set_console_size(size);
    if let Some((uid, gid)) = user {
        p.set_user(
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .build()
                .unwrap_or_default(),
        );
    }
    if cfg.privileged {
        // Capabilities rrun-oci would not know are left out (it refuses
        // a process.json naming one).
        let known: Vec<&String> = all_caps
            .iter()
            .filter(|c| spec::capability_set(&[c.as_str()]).is_ok())
            .collect();
        let set = spec::capability_set(&known).unwrap_or_default();
        p.set_capabilities(Some(spec::process_capabilities(set)));
        p.set_apparmor_profile(None).set_selinux_label(None);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn cfg(v: Value) -> ExecConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn exec_config_reads_dockers_json() {
        let c = cfg(
            json!({"AttachStdin": true, "AttachStdout": true, "Tty": true,
            "Cmd": ["sh"], "Env": null, "ConsoleSize": [24, 80], "DetachKeys": ""}),
        );
        assert!(c.attach_stdin && c.tty && !c.attach_stderr);
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(c.console_size, Some([24, 80]));
    }

    #[test]
    fn process_takes_the_containers_and_overrides() {
        let base: Process = serde_json::from_value(
            json!({"args": ["sleep", "100"], "cwd": "/", "env": ["PATH=/bin", "A=1"],
            "user": {"uid": 0, "gid": 0}, "terminal": false,
            "capabilities": {"bounding": ["CAP_CHOWN"]}}),
        )
        .unwrap();
        let c = cfg(
            json!({"Cmd": ["echo", "hi"], "Env": ["A=2", "B=3"], "WorkingDir": "/tmp",
            "Tty": true, "ConsoleSize": [30, 100], "Privileged": true}),
        );
        let all = vec!["CAP_CHOWN".to_string(), "CAP_SYS_ADMIN".to_string()];
        let p =
            serde_json::to_value(build_process(Some(&base), &c, Some((1000, 100)), &all)).unwrap();
        assert_eq!(p["args"], json!(["echo", "hi"]));
        assert_eq!(p["env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(p["terminal"], true);
        assert_eq!(p["consoleSize"], json!({"height": 30, "width": 100}));
        assert_eq!(p["user"], json!({"uid": 1000, "gid": 100}));
        let bounding = p["capabilities"]["bounding"].as_array().unwrap();
        assert!(bounding.contains(&json!("CAP_SYS_ADMIN")));

        let p = build_process(Some(&base), &cfg(json!({"Cmd": ["id"]})), None, &all);
        let p = serde_json::to_value(p).unwrap();
        assert_eq!(p["cwd"], "/");
        assert_eq!(p["terminal"], false);
        assert_eq!(p["capabilities"]["bounding"], json!(["CAP_CHOWN"]));
        assert!(p.get("consoleSize").is_none());

        // No process in config.json: root in /, nothing else assumed.
        let p = build_process(None, &cfg(json!({"Cmd": ["id"]})), None, &all);
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            json!({"args": ["id"], "cwd": "/", "env": [], "terminal": false,
                   "user": {"uid": 0, "gid": 0}})
        );
    }

    #[test]
    fn failed_starts_are_126_or_127() {
        assert_eq!(
            failed_start_code("exec: \"nope\": executable file not found in $PATH"),
            127
        );
        assert_eq!(failed_start_code("unable to find user bob"), 126);
    }
}
