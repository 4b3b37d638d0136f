//! The system side of [`super::runopts`]: host device nodes looked up for
//! `--device` and `--privileged`, and the `--init` reaper installed where
//! containers bind-mount it from.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::runopts::{self, DevNode};
use super::store::{self, Container};
use super::{ContainerError, Daemon};

/// The reaper's source, compiled here too so its unit tests run.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../reaper/main.rs"]
mod reaper;

/// The static reaper built by `build.rs` from `reaper/main.rs`.
static REAPER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/docker-init"));

/// Writes the reaper to `<exec-root>/docker-init` unless it is there.
pub fn install_reaper(exec_root: &Path) -> std::io::Result<PathBuf> {
    let path = exec_root.join("docker-init");
    let same = std::fs::read(&path).is_ok_and(|b| b == REAPER);
    if !same {
        store::atomic_write(&path, REAPER)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(path)
}

fn major(dev: u64) -> i64 {
    nix::sys::stat::major(dev) as i64
}
fn minor(dev: u64) -> i64 {
    nix::sys::stat::minor(dev) as i64
}

/// The device node at `host`, to appear at `ctr` with cgroup `access`.
pub fn device(host: &Path, ctr: &str, access: &str) -> Result<DevNode, String> {
    let md = std::fs::metadata(host).map_err(|e| {
        format!(
            "error gathering device information while adding custom device \"{}\": {e}",
            host.display()
        )
    })?;
    let ft = md.file_type();
    let typ = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return Err(format!(
            "error gathering device information while adding custom device \"{}\": not a device node",
            host.display()
        ));
    };
    Ok(DevNode {
        path: ctr.to_string(),
        typ,
        major: major(md.rdev()),
        minor: minor(md.rdev()),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        access: access.to_string(),
    })
}

/// The numbers of the block device at `path` (the block IO options).
pub fn block_device(path: &str) -> Result<(i64, i64), String> {
    let md = std::fs::metadata(path).map_err(|e| match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    })?;
    if !md.file_type().is_block_device() {
        return Err("not a block device (name a disk, such as /dev/sda)".into());
    }
    Ok((major(md.rdev()), minor(md.rdev())))
}

/// Every device node under the host's /dev, as runc's HostDevices (no
/// pts, shm, mqueue or fd, no console).
pub fn host_devices() -> Vec<DevNode> {
    fn walk(dir: &Path, out: &mut Vec<DevNode>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                let name = e.file_name();
                if !matches!(
                    name.to_str(),
                    Some("pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev")
                ) {
                    walk(&p, out);
                }
                continue;
            }
            if p == Path::new("/dev/console") || p == Path::new("/dev/ptmx") {
                continue;
            }
            if ft.is_char_device() || ft.is_block_device() {
                if let Ok(d) = device(&p, &p.to_string_lossy(), "rwm") {
                    out.push(d);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/dev"), &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn bad(e: super::spec::SpecError) -> ContainerError {
    ContainerError::InvalidOption(e.to_string())
}

impl Daemon {
    /// Applies the container's run options to its freshly built spec.
    pub(super) fn apply_run_options(
        &self,
        spec: &mut Spec,
        c: &Container,
        group_file: &str,
    ) -> Result<(), ContainerError> {
        let o = &c.host_config.run;
        let host = runopts::Host::cached();
        let gids = runopts::resolve_groups(&o.group_add, group_file).map_err(bad)?;
        runopts::add_groups(spec, gids);
        let devices = if o.privileged {
            host_devices()
        } else {
            o.devices
                .iter()
                .map(|d| {
                    let ctr = if d.path_in_container.is_empty() {
                        &d.path_on_host
                    } else {
                        &d.path_in_container
                    };
                    let access = if d.cgroup_permissions.is_empty() {
                        "rwm"
                    } else {
                        &d.cgroup_permissions
                    };
                    device(Path::new(&d.path_on_host), ctr, access)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(ContainerError::InvalidOption)?
        };
        let init_binary = if o.init == Some(true) {
            install_reaper(&self.opts.exec_root)
                .map_err(|e| ContainerError::Internal(format!("install the init reaper: {e}")))?
                .display()
                .to_string()
        } else {
            String::new()
        };
        let x = runopts::Extra {
            host,
            devices,
            init_binary,
            joined: self.joined_namespaces(c)?,
            block_io: runopts::block_io(o, &block_device).map_err(ContainerError::InvalidOption)?,
        };
        runopts::apply(spec, o, &x).map_err(bad)
    }
}

impl Daemon {
    /// `--pid container:x` and `--ipc container:x`: x must run, and lend
    /// its IPC namespace only when made `shareable` (Docker's rule); a
    /// `shareable` container's /dev/shm is a tmpfs the daemon mounts.
    fn joined_namespaces(&self, c: &Container) -> Result<runopts::Joined, ContainerError> {
        let o = &c.host_config.run;
        let running = |name: &str, what: &'static str| {
            let d = self.container(name)?;
            if !d.state.running || d.state.pid <= 0 {
                return Err(ContainerError::JoinNotRunning { what, id: d.id });
            }
            Ok(d)
        };
        let mut joined = runopts::Joined::default();
        if o.ipc_mode == "shareable" {
            joined.shm = Some(super::containers::shm::path(&self.dir(&c.id)));
        }
        if let Some(name) = runopts::donor(&o.pid_mode) {
            joined.pid = Some(running(name, "PID")?.state.pid);
        }
        if let Some(name) = runopts::donor(&o.ipc_mode) {
            let d = running(name, "IPC")?;
            if d.host_config.run.ipc_mode != "shareable" {
                return Err(ContainerError::IpcNotShareable(d.id));
            }
            joined.ipc = Some(d.state.pid);
            joined.shm = Some(super::containers::shm::path(&self.dir(&d.id)));
        }
        Ok(joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_nodes_are_looked_up() {
        let d = device(Path::new("/dev/null"), "/dev/mynull", "r").unwrap();
        assert_eq!((d.typ, d.major, d.minor), (LinuxDeviceType::C, 1, 3));
        assert_eq!(d.path, "/dev/mynull");
        assert_eq!(d.access, "r");
        assert!(device(Path::new("/etc/passwd"), "/x", "rwm").is_err());
        assert!(device(Path::new("/nonexistent"), "/x", "rwm").is_err());
        assert!(host_devices().iter().any(|d| d.path == "/dev/null"));
    }

    #[test]
    fn the_reaper_is_installed_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = install_reaper(dir.path()).unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o755);
        assert_eq!(std::fs::read(&p).unwrap(), REAPER);
        let mtime = meta.modified().unwrap();
        install_reaper(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), mtime);
    }
}
