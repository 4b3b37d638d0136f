//! A container's file tree as the archive endpoints see it, and the three
//! operations on it (stat, tar of a path, extraction into a directory).
//!
//! A running container is reached through `/proc/<pid>/root`: its own root
//! with every mount it has (volumes, binds, tmpfs, the hosts files), and
//! openat2 `RESOLVE_IN_ROOT` under it resolves symlinks as the container
//! would. A stopped container's root filesystem is mounted (overlay, read
//! and write) on a private directory for the length of the request; its
//! volumes and bind sources are opened beside it and a path under a mount
//! destination goes to that mount's source (a symlink on the root
//! filesystem pointing into a volume then resolves on the root filesystem,
//! not in the volume, and never outside either).

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use pathrs::Root;
use volumes::plan::PlannedSource;

use super::{
    abs_path, base_name, follows_last, go_file_mode, go_time, route, PathStat, PutOptions,
};
use crate::daemon::store::Container;
use crate::daemon::{find_image, ContainerError, Daemon, ImageError};

/// An open view of one container's files. Dropping it unmounts what it
/// mounted.
pub struct View {
    /// The container as the client named it (Docker's messages do).
    name: String,
    /// (destination in the container, its root), the container's `/` first.
    roots: Vec<(String, Root)>,
    /// Every mount destination with whether it is read-only, `/` first
    /// (`--read-only`).
    modes: Vec<(String, bool)>,
    _mount: Option<TempMount>,
    /// Held while a stopped container's root is mounted; after `_mount`,
    /// so the unmount comes first.
    _lock: Option<super::RootfsLock>,
}

/// A stopped container's root filesystem mounted for one request.
struct TempMount {
    dir: PathBuf,
}

impl Drop for TempMount {
    fn drop(&mut self) {
        match rrun_image::rootfs::unmount_rootfs(&self.dir) {
            Ok(()) => {
                let _ = std::fs::remove_dir(&self.dir);
            }
            Err(e) => {
                tracing::warn!(error = %e, "unmount a container's root filesystem after a copy")
            }
        }
    }
}

/// At start-up: the mounts a daemon killed during a copy left in a
/// container's directory `dir`, unmounted and removed.
pub fn clean_leftovers(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with("archive-") {
            let _ = nix::mount::umount2(&e.path(), nix::mount::MntFlags::MNT_DETACH);
            if let Err(err) = std::fs::remove_dir(e.path()) {
                tracing::warn!(dir = %e.path().display(), error = %err, "remove a copy's mount point");
            }
        }
    }
}

/// A new, empty directory under `dir` for one request's mount.
fn private_dir(dir: &std::path::Path) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let p = dir.join(format!("archive-{}-{n}", std::process::id()));
    std::fs::create_dir(&p)?;
    Ok(p)
}

/// A path resolved inside one of the view's roots.
struct Resolved<'v> {
    root: &'v Root,
    dest: &'v str,
    rel: String,
    handle: pathrs::Handle,
}

fn internal(what: &str) -> impl Fn(pathrs::error::Error) -> ContainerError + '_ {
    move |e| ContainerError::Internal(format!("{what}: {e}"))
}

impl Daemon {
    /// Opens container `name`'s files for the archive endpoints.
    pub fn archive_view(&self, name: &str) -> Result<View, ContainerError> {
        let c = self.container(name)?;
        let mut modes = vec![("/".to_string(), c.host_config.run.readonly_rootfs)];
        modes.extend(c.mounts.iter().map(|m| (m.destination.clone(), m.readonly)));
        if c.state.running && c.state.pid > 0 {
            let proc_root = format!("/proc/{}/root", c.state.pid);
            // Opened here, not by Root::open (which refuses a magic link):
            // the container's own root, its mounts below it.
            let dir = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(&proc_root)
                .map_err(|e| ContainerError::Internal(format!("open {proc_root}: {e}")))?;
            let root = Root::from_fd(dir);
            return Ok(View {
                name: name.trim_start_matches('/').to_string(),
                roots: vec![("/".into(), root)],
                modes,
                _mount: None,
                _lock: None,
            });
        }
        let mut view = self.stopped_view(c, modes)?;
        view.name = name.trim_start_matches('/').to_string();
        Ok(view)
    }

    /// `docker export`'s view: the container's own root filesystem only
    /// (no volumes, binds, tmpfs or /proc): a running container's overlay
    /// as the daemon mounted it, a stopped one's mounted for the request.
    pub fn export_view(&self, name: &str) -> Result<View, ContainerError> {
        let c = self.container(name)?;
        let rootfs = self.dir(&c.id).join("rootfs");
        if c.state.running {
            return Ok(View {
                name: c.name,
                roots: vec![("/".into(), Root::open(&rootfs).map_err(internal("root"))?)],
                modes: vec![],
                _mount: None,
                _lock: None,
            });
        }
        let mut view = self.stopped_view(c, vec![])?;
        view.roots.truncate(1);
        if view.roots.len() == 1 && view._mount.is_none() {
            // A start won the race: read the running overlay instead.
            return self.export_view(name);
        }
        Ok(view)
    }

    fn stopped_view(
        &self,
        c: Container,
        modes: Vec<(String, bool)>,
    ) -> Result<View, ContainerError> {
        let lock = super::RootfsLock::take(&c.id);
        // A start may have won the lock: then the running container's root.
        if self.container(&c.id).is_ok_and(|now| now.state.running) {
            drop(lock);
            return self.archive_view(&c.id);
        }
        let image = find_image(&self.images, &c.image)
            .map_err(|_| ImageError::NoSuchImage(c.image_name.clone()))?;
        let dir = self.dir(&c.id);
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        for d in [&upper, &work] {
            std::fs::create_dir_all(d).map_err(ContainerError::internal)?;
        }
        let tmp = private_dir(&dir).map_err(ContainerError::internal)?;
        if let Err(e) = rrun_image::rootfs::mount_rootfs(&self.images, &image, &upper, &work, &tmp)
        {
            let _ = std::fs::remove_dir(&tmp);
            return Err(ContainerError::internal(e));
        }
        let mount = TempMount { dir: tmp };
        let rootfs = &mount.dir;
        let mut roots = vec![(
            "/".to_string(),
            Root::open(rootfs).map_err(internal("root"))?,
        )];
        for m in &c.mounts {
            let source = match &m.source {
                PlannedSource::Bind { source, .. } => source.clone(),
                PlannedSource::Volume { name, .. } => self.volumes.data_path(name),
                // A stopped container's tmpfs holds nothing.
                PlannedSource::Tmpfs { .. } => continue,
            };
            // A bind of a single file (`./app.conf:/etc/app.conf`, a
            // Compose file secret) cannot be a root: the view shows the
            // container's own path there, as for a tmpfs. Opening it
            // failed every archive request on the container.
            if !source.is_dir() {
                continue;
            }
            let root = Root::open(&source).map_err(internal(&m.destination))?;
            roots.push((m.destination.clone(), root));
        }
        Ok(View {
            name: c.name,
            roots,
            modes,
            _mount: Some(mount),
            _lock: Some(lock),
        })
    }
}

/// The host path an fd is open on, through /proc.
fn fd_path(fd: impl AsFd) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())).ok()
}

impl View {
    /// Resolves `abs` (as [`abs_path`] gives it) inside the container.
    fn resolve(&self, abs: &str, shown: &str) -> Result<Resolved<'_>, ContainerError> {
        let dests: Vec<String> = self.roots.iter().map(|(d, _)| d.clone()).collect();
        let (i, rel) = route(&dests, abs).expect("the container's / is a root");
        let (dest, root) = (&self.roots[i].0, &self.roots[i].1);
        let rel = match abs.ends_with("/.") {
            true => format!("{}/.", rel.trim_end_matches('/')),
            false => rel,
        };
        let handle = if follows_last(abs) || rel == "/" {
            root.resolve(&rel)
        } else {
            root.resolve_nofollow(&rel)
        }
        .map_err(|_| super::not_found(shown, &self.name))?;
        Ok(Resolved {
            root,
            dest,
            rel,
            handle,
        })
    }

    /// `HEAD /containers/{id}/archive?path=`.
    pub fn stat(&self, path: &str) -> Result<PathStat, ContainerError> {
        let abs = abs_path(path);
        let r = self.resolve(&abs, path)?;
        let st = nix::sys::stat::fstat(r.handle.as_fd().as_raw_fd())
            .map_err(|e| ContainerError::Internal(format!("stat {path}: {e}")))?;
        let mut link_target = String::new();
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            link_target = self.link_target(&r);
        }
        Ok(PathStat {
            name: base_name(&abs),
            size: st.st_size,
            mode: go_file_mode(st.st_mode),
            mtime: go_time(st.st_mtime, st.st_mtime_nsec),
            link_target,
        })
    }

    /// Where a symlink leads, fully resolved inside the container, as a
    /// path in the container (Docker's `linkTarget`); the link's own text
    /// when it leads nowhere.
    fn link_target(&self, r: &Resolved<'_>) -> String {
        let resolved = r.root.resolve(&r.rel).ok().and_then(fd_path);
        let root = fd_path(r.root);
        if let (Some(to), Some(root)) = (resolved, root) {
            if let Ok(inside) = to.strip_prefix(&root) {
                let dest = r.dest.trim_end_matches('/');
                return format!("{dest}/{}", inside.display()).replace("//", "/");
            }
        }
        r.root
            .readlink(&r.rel)
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// `GET /containers/{id}/archive?path=`: the tar of `path` into `w`,
    /// its top entry named as the path's last element.
    pub fn write_tar(&self, path: &str, w: impl Write) -> Result<(), ContainerError> {
        let abs = abs_path(path);
        let r = self.resolve(&abs, path)?;
        let top = match base_name(&abs).as_str() {
            "/" => ".".to_string(),
            b => b.to_string(),
        };
        super::pack::write_tar(r.root, &r.rel, &r.handle, &top, w)
            .map_err(|e| ContainerError::Internal(format!("archive {path}: {e}")))
    }

    /// `GET /containers/{id}/export`: the tar of the whole root.
    pub fn write_export(&self, w: impl Write) -> Result<(), ContainerError> {
        let (_, root) = &self.roots[0];
        let handle = root
            .resolve("/")
            .map_err(|e| ContainerError::Internal(format!("export {}: {e}", self.name)))?;
        super::pack::write_tree(&handle, w)
            .map_err(|e| ContainerError::Internal(format!("export {}: {e}", self.name)))
    }

    /// `PUT /containers/{id}/archive?path=`: extracts `tar` into the
    /// directory `path` (which must exist).
    pub fn extract(
        &self,
        path: &str,
        tar: impl Read,
        opts: PutOptions,
    ) -> Result<(), ContainerError> {
        let abs = format!("{}/", abs_path(path).trim_end_matches('/'));
        let r = self.resolve(&abs, path)?;
        let st = nix::sys::stat::fstat(r.handle.as_fd().as_raw_fd())
            .map_err(|e| ContainerError::Internal(format!("stat {path}: {e}")))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(ContainerError::NotADirectory);
        }
        // The directory as resolved (symlinks followed inside the root),
        // so the routing below sees where the files really go.
        let target = self
            .link_dir(&r)
            .unwrap_or_else(|| abs.trim_end_matches('/').to_string());
        if let Some(ro) = self.read_only_at(&target) {
            return Err(match ro.as_str() {
                "/" => ContainerError::ReadOnlyRootfs,
                _ => ContainerError::ReadOnlyVolume(ro),
            });
        }
        let dir = PathBuf::from(&r.rel);
        super::unpack::extract(r.root, &dir, tar, opts).map_err(ContainerError::internal)
    }

    /// The container path a resolved directory is at.
    fn link_dir(&self, r: &Resolved<'_>) -> Option<String> {
        let to = fd_path(&r.handle)?;
        let root = fd_path(r.root)?;
        let inside = to.strip_prefix(&root).ok()?;
        let dest = r.dest.trim_end_matches('/');
        Some(super::clean(&format!("{dest}/{}", inside.display())))
    }

    /// The read-only mount (or `/` for a read-only root) holding `abs`.
    fn read_only_at(&self, abs: &str) -> Option<String> {
        let dests: Vec<String> = self.modes.iter().map(|(d, _)| d.clone()).collect();
        let (i, _) = route(&dests, abs)?;
        self.modes[i].1.then(|| dests[i].clone())
    }
}
