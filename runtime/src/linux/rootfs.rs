//! Applies a container's mount plan inside its new mount namespace, then
//! switches to its root.
//!
//! Every mount target is resolved inside the rootfs with `pathrs`
//! (openat2 RESOLVE_IN_ROOT), and the mount is made on the resolved
//! `/proc/self/fd/N`, never on a path string a container could swap a
//! symlink into while we work (CVE-2021-30465).

use crate::spec::mounts::{self, DevNode, Kind, Plan, Step};
use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fstat, mknodat, Mode, SFlag};
use nix::unistd::{chdir, fchdir, pivot_root};
use pathrs::Root;
use std::fs::{File, Permissions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn flags(bits: u64) -> MsFlags {
    MsFlags::from_bits_retain(bits as libc::c_ulong)
}

/// `/dev/null` of the host, opened and checked once. Masking binds only this
/// verified node (CVE-2025-31133: a container could otherwise swap its own
/// `/dev/null` for a link to a file the mask would then expose read-write).
pub struct DevNull(File);

impl DevNull {
    pub fn open() -> Result<DevNull> {
        let f = File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open("/dev/null")
            .context("open /dev/null")?;
        let st = fstat(f.as_raw_fd()).context("stat /dev/null")?;
        let is_chr = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
        if !is_chr || libc::major(st.st_rdev) != 1 || libc::minor(st.st_rdev) != 3 {
            bail!("/dev/null is not the 1:3 character device; refusing to use it for masking");
        }
        Ok(DevNull(f))
    }
}

use std::os::unix::fs::OpenOptionsExt;

/// Prepares the root: propagation, the rootfs as a mount point, every spec
/// mount in order, `/dev`, masked and read-only paths. Runs in the
/// container's mount namespace before pivot_root.
pub fn prepare(
    rootfs: &Path,
    bundle: &Path,
    plan: &Plan,
    devices: &[DevNode],
    devnull: &DevNull,
    new_cgroupns: bool,
) -> Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        flags(plan.root_propagation),
        None::<&str>,
    )
    .context("set propagation of /")?;
    // pivot_root refuses a new root whose parent mount is shared, and the
    // bind below must not propagate anywhere: make that one mount private
    // (as runc does); the requested propagation is set again after the pivot.
    let parent = parent_mount(rootfs)?;
    mount(
        None::<&str>,
        &parent,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .with_context(|| format!("make {} private", parent.display()))?;
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind {} onto itself", rootfs.display()))?;
    let root = Root::open(rootfs).with_context(|| format!("open rootfs {}", rootfs.display()))?;

    for step in &plan.mounts {
        apply(&root, bundle, step, new_cgroupns).map_err(|e| mount_error(step, e))?;
    }
    if plan.populate_dev {
        populate_dev(&root, devices).context("populate /dev")?;
    }
    for p in &plan.masked_paths {
        mask(&root, p, devnull).with_context(|| format!("mask {p}"))?;
    }
    for p in &plan.readonly_paths {
        readonly(&root, p).with_context(|| format!("make {p} read-only"))?;
    }
    Ok(())
}

/// A mount that failed, named as runc names it; a directory onto a file
/// (or the other way round, a symlink in the image to a file included)
/// gets runc's hint, as Docker users know it.
fn mount_error(step: &Step, e: anyhow::Error) -> anyhow::Error {
    let src = step
        .source
        .as_deref()
        .map_or_else(|| step.fstype.clone(), |p| p.display().to_string());
    let e = e.context(format!(
        "error mounting {src:?} ({}) to rootfs at {:?}",
        step.fstype_or_bind(),
        step.destination
    ));
    let enotdir = e.chain().any(|c| {
        c.downcast_ref::<nix::errno::Errno>() == Some(&nix::errno::Errno::ENOTDIR)
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.raw_os_error() == Some(libc::ENOTDIR))
    });
    if enotdir {
        return anyhow::anyhow!(
            "{e:#}: Are you trying to mount a directory onto a file (or vice-versa)? \
             Check if the specified host path exists and is the expected type"
        );
    }
    e
}

trait StepExt {
    fn fstype_or_bind(&self) -> &str;
}

impl StepExt for Step {
    fn fstype_or_bind(&self) -> &str {
        if self.kind == Kind::Bind {
            "bind"
        } else {
            &self.fstype
        }
    }
}

fn dir_perm() -> Permissions {
    Permissions::from_mode(0o755)
}

/// `root.mkdir_all(dest)`, without pathrs' re-open of the deepest existing
/// directory through procfs (its checks of the procfs handle are ten
/// system calls a call): that directory is opened by `openat2` itself,
/// `O_DIRECTORY`, confined to the root (`RESOLVE_IN_ROOT`, no magic links),
/// which is what pathrs' `O_PATH` handle and its re-open give. The rest as
/// pathrs does it: each missing component made with `mkdirat` and opened
/// `O_NOFOLLOW | O_DIRECTORY` relative to its parent's fd (a symlink
/// swapped in fails the open: CVE-2021-30465). A path with `..`, and any
/// path where openat2 is missing, goes to pathrs.
fn mkdir_all(root: &Root, dest: &Path) -> Result<pathrs::Handle> {
    use std::path::Component;
    if dest.components().any(|c| c == Component::ParentDir) {
        return Ok(root.mkdir_all(dest, &dir_perm())?);
    }
    let parts: Vec<&std::ffi::OsStr> = dest
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let mut have = parts.len();
    let mut dir = loop {
        let sub: PathBuf = parts[..have].iter().collect();
        let sub = if have == 0 { PathBuf::from(".") } else { sub };
        match openat2_in_root(root.as_fd(), &sub, libc::O_DIRECTORY | libc::O_RDONLY) {
            Ok(fd) => break fd,
            Err(e) if e == nix::Error::ENOENT && have > 0 => have -= 1,
            // No openat2 (before Linux 5.6, or a seccomp filter of a host
            // that runs rrun nested): pathrs emulates it.
            Err(nix::Error::ENOSYS | nix::Error::EPERM) => {
                return Ok(root.mkdir_all(dest, &dir_perm())?);
            }
            Err(e) => {
                return Err(anyhow!("open {} in the rootfs: {e}", sub.display()));
            }
        }
    };
    for name in &parts[have..] {
        let mode = Mode::from_bits_truncate(dir_perm().mode());
        match nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), *name, mode) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(anyhow!("create {:?} in the rootfs: {e}", name)),
        }
        let fd = nix::fcntl::openat(
            Some(dir.as_raw_fd()),
            *name,
            OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open the new directory {:?} in the rootfs", name))?;
        // SAFETY: openat returned a new fd that we now own.
        dir = unsafe { OwnedFd::from_raw_fd(fd) };
    }
    Ok(pathrs::Handle::from_fd(dir))
}

/// `openat2(root, path, flags | O_CLOEXEC)` resolved as if `root` were `/`,
/// never through a magic link.
fn openat2_in_root(root: BorrowedFd<'_>, path: &Path, flags: i32) -> nix::Result<OwnedFd> {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| nix::Error::EINVAL)?;
    // SAFETY: open_how is plain integers; zero is "no mode, no flags".
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // A rename or mount that races the lookup makes the kernel refuse it
    // (EAGAIN); asked again a bounded number of times, as pathrs does.
    for _ in 0..128 {
        // SAFETY: openat2 reads the path and `how`, both valid for the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: openat2 returned a new fd that we now own.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        match nix::Error::last() {
            nix::Error::EAGAIN => continue,
            e => return Err(e),
        }
    }
    Err(nix::Error::EAGAIN)
}

/// Resolves (creating when missing) a mount target inside the root: a
/// directory, or a file when the thing mounted there is a file.
fn target(root: &Root, dest: &Path, file: bool) -> Result<pathrs::Handle> {
    // An existing target, symlinks in it followed as if the rootfs were /.
    if let Ok(h) = root.resolve(dest) {
        return Ok(h);
    }
    if file {
        if let Some(parent) = dest.parent() {
            mkdir_all(root, parent)?;
        }
        match root.create(
            dest,
            &pathrs::InodeType::File(Permissions::from_mode(0o644)),
        ) {
            Ok(()) => {}
            Err(e) if e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::EEXIST)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(root.resolve(dest)?)
    } else {
        mkdir_all(root, dest)
    }
}

fn apply(root: &Root, bundle: &Path, step: &Step, new_cgroupns: bool) -> Result<()> {
    match step.kind {
        Kind::Bind => bind(root, bundle, step),
        Kind::Cgroup => cgroup(root, step, new_cgroupns),
        Kind::Filesystem => {
            let t = if step.fstype == "proc" || step.fstype == "sysfs" {
                kernel_fs_target(root, step)?
            } else {
                target(root, &step.destination, false)?
            };
            let source = step
                .source
                .clone()
                .unwrap_or_else(|| PathBuf::from(&step.fstype));
            let data = (!step.options.data.is_empty()).then_some(step.options.data.as_str());
            mount(
                Some(&source),
                &fd_path(t.as_fd()),
                Some(step.fstype.as_str()),
                flags(step.options.flags),
                data,
            )?;
            propagate(root, step)
        }
    }
}

/// proc and sysfs go exactly where the spec says, on a real directory, never
/// where a symlink in the image points (CVE-2019-19921: a /proc redirected
/// into a volume another container controls let the masks miss the real
/// procfs).
fn kernel_fs_target(root: &Root, step: &Step) -> Result<pathrs::Handle> {
    let dest = &step.destination;
    let h = match root.resolve_nofollow(dest) {
        Ok(h) => h,
        Err(e) if e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::ENOENT)) => {
            mkdir_all(root, dest)?
        }
        Err(e) => return Err(e.into()),
    };
    let st = fstat(h.as_fd().as_raw_fd())?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
        bail!(
            "refusing to mount {} on {}: it is not a directory in the rootfs (a symlink?)",
            step.fstype,
            dest.display()
        );
    }
    Ok(h)
}

/// Remounts a bind with the spec's flags (ro, nosuid, nodev, noexec), which
/// a bind only takes through a remount.
fn remount_bind(root: &Root, dest: &Path, fl: MsFlags) -> Result<()> {
    if remount_flags(fl).is_empty() {
        return Ok(());
    }
    let d = root.resolve(dest)?;
    remount_bind_at(d.as_fd(), fl)
}

/// The flags of `fl` that a bind takes only through a remount.
fn remount_flags(fl: MsFlags) -> MsFlags {
    fl & (MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC)
}

/// [`remount_bind`] of the bind mount whose root `fd` is.
fn remount_bind_at(fd: BorrowedFd<'_>, fl: MsFlags) -> Result<()> {
    mount(
        None::<&str>,
        &fd_path(fd),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | remount_flags(fl),
        None::<&str>,
    )?;
    Ok(())
}

fn propagate(root: &Root, step: &Step) -> Result<()> {
    for p in &step.options.propagation {
        let t = root.resolve(&step.destination)?;
        mount(
            None::<&str>,
            &fd_path(t.as_fd()),
            None::<&str>,
            flags(*p),
            None::<&str>,
        )?;
    }
    Ok(())
}

fn bind(root: &Root, bundle: &Path, step: &Step) -> Result<()> {
    let src = step
        .source
        .as_ref()
        .ok_or_else(|| anyhow!("bind mount without a source"))?;
    let src = if src.is_absolute() {
        src.clone()
    } else {
        bundle.join(src)
    };
    let meta = std::fs::metadata(&src).with_context(|| format!("source {}", src.display()))?;
    let t = target(root, &step.destination, !meta.is_dir())?;
    let bind_flags = libc::MS_BIND | (step.options.flags & libc::MS_REC);
    mount(
        Some(&src),
        &fd_path(t.as_fd()),
        None::<&str>,
        flags(bind_flags),
        None::<&str>,
    )?;
    let remount = step.options.remount_flags();
    if remount != 0 {
        // The fd still points below the new mount: resolve again.
        let t = root.resolve(&step.destination)?;
        let base = libc::MS_BIND | libc::MS_REMOUNT | (step.options.flags & libc::MS_REC);
        let path = fd_path(t.as_fd());
        if let Err(e) = mount(
            None::<&str>,
            &path,
            None::<&str>,
            flags(base | remount),
            None::<&str>,
        ) {
            // Flags locked on the source mount (nosuid, nodev, noexec in a
            // user namespace) must be kept on a remount; retry with them.
            let locked = locked_flags(&src)?;
            mount(
                None::<&str>,
                &path,
                None::<&str>,
                flags(base | remount | locked),
                None::<&str>,
            )
            .map_err(|_| e)?;
        }
    }
    propagate(root, step)
}

fn locked_flags(path: &Path) -> Result<u64> {
    let st = nix::sys::statvfs::statvfs(path)?;
    use nix::sys::statvfs::FsFlags;
    let f = st.flags();
    let mut out = 0;
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, libc::MS_NOSUID),
        (FsFlags::ST_NODEV, libc::MS_NODEV),
        (FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
        (FsFlags::ST_RDONLY, libc::MS_RDONLY),
        (FsFlags::ST_NOATIME, libc::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, libc::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    Ok(out)
}

/// A cgroup hierarchy mounted on the host.
struct Hierarchy {
    mountpoint: PathBuf,
    fstype: String,
    options: String,
}

fn host_hierarchies() -> Result<Vec<Hierarchy>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut out = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some(fstype), Some(_src), Some(opts)) = (r.next(), r.next(), r.next()) else {
            continue;
        };
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let Some(mp) = left.split(' ').nth(4) else {
            continue;
        };
        let options = opts
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect::<Vec<_>>()
            .join(",");
        out.push(Hierarchy {
            mountpoint: PathBuf::from(mp),
            fstype: fstype.to_string(),
            options,
        });
    }
    Ok(out)
}

/// The cgroup filesystem for the container. On a unified host it is
/// cgroup2; on v1 and hybrid hosts a tmpfs holding every hierarchy. With a
/// new cgroup namespace each hierarchy is mounted afresh and shows the
/// container's cgroup as its root; without one the container's own cgroup
/// directories are bound.
fn cgroup(root: &Root, step: &Step, new_cgroupns: bool) -> Result<()> {
    let t = target(root, &step.destination, false)?;
    let fl = flags(step.options.flags);
    let hier = host_hierarchies()?;
    if hier.iter().all(|h| h.fstype == "cgroup2") {
        return cgroup_unified(root, step, &t, &hier, new_cgroupns);
    }
    // v1 / hybrid: a tmpfs, then each hierarchy, then the tmpfs read-only
    // like the rest if asked.
    let tmpfs_flags = fl & !MsFlags::MS_RDONLY;
    mount(
        Some("tmpfs"),
        &fd_path(t.as_fd()),
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )?;
    // The tmpfs is ours and empty: its hierarchies' directories are made
    // and opened relative to it, without resolving each path in the root.
    let tmpfs = root.resolve(&step.destination)?;
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    for h in &hier {
        cgroup_hierarchy(&tmpfs, step, h, new_cgroupns, &own)?;
    }
    if fl.contains(MsFlags::MS_RDONLY) {
        mount(
            None::<&str>,
            &fd_path(tmpfs.as_fd()),
            None::<&str>,
            tmpfs_flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            Some("mode=755"),
        )?;
    }
    Ok(())
}

/// A unified-only host: cgroup2 mounted afresh in a new cgroup namespace,
/// else the container's own cgroup bound and made read-only as asked.
fn cgroup_unified(
    root: &Root,
    step: &Step,
    t: &impl AsFd,
    hier: &[Hierarchy],
    new_cgroupns: bool,
) -> Result<()> {
    let fl = flags(step.options.flags);
    if new_cgroupns {
        mount(
            Some("cgroup2"),
            &fd_path(t.as_fd()),
            Some("cgroup2"),
            fl,
            None::<&str>,
        )?;
        return Ok(());
    }
    let own = own_cgroup(&std::fs::read_to_string("/proc/self/cgroup")?, "")?;
    let base = hier
        .first()
        .map_or(Path::new("/sys/fs/cgroup"), |h| h.mountpoint.as_path());
    let src = base.join(own.trim_start_matches('/'));
    mount(
        Some(&src),
        &fd_path(t.as_fd()),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    // Without this the container could raise its own limits.
    remount_bind(root, &step.destination, fl)
}

/// One v1 (or the hybrid host's cgroup2) hierarchy under `tmpfs`, the
/// tmpfs just mounted for them; `own` is /proc/self/cgroup.
fn cgroup_hierarchy(
    tmpfs: &impl AsFd,
    step: &Step,
    h: &Hierarchy,
    new_cgroupns: bool,
    own: &str,
) -> Result<()> {
    let Some(name) = h.mountpoint.file_name() else {
        return Ok(());
    };
    let fl = flags(step.options.flags);
    let open = || -> Result<OwnedFd> {
        let fd = nix::fcntl::openat(
            Some(tmpfs.as_fd().as_raw_fd()),
            name,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open {}", step.destination.join(name).display()))?;
        // SAFETY: openat returned a new fd that we now own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    nix::sys::stat::mkdirat(
        Some(tmpfs.as_fd().as_raw_fd()),
        name,
        Mode::from_bits_truncate(0o755),
    )
    .with_context(|| format!("create {}", step.destination.join(name).display()))?;
    let d = open()?;
    let dp = fd_path(d.as_fd());
    if new_cgroupns {
        let (src, ty) = if h.fstype == "cgroup2" {
            ("cgroup2", "cgroup2")
        } else {
            ("cgroup", "cgroup")
        };
        let data = (!h.options.is_empty() && h.fstype == "cgroup").then_some(h.options.as_str());
        return mount(Some(src), &dp, Some(ty), fl, data)
            .with_context(|| format!("mount cgroup {}", h.options));
    }
    let own = own_cgroup(
        own,
        if h.fstype == "cgroup2" {
            ""
        } else {
            &h.options
        },
    )?;
    let src = h.mountpoint.join(own.trim_start_matches('/'));
    mount(
        Some(&src),
        &dp,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    if remount_flags(fl).is_empty() {
        return Ok(());
    }
    // Opened again: the bind mount's root, not the directory under it.
    remount_bind_at(open()?.as_fd(), fl)
}

/// This process's cgroup path in the hierarchy with the given controllers
/// (`""` for the unified one), from `s`, /proc/self/cgroup.
fn own_cgroup(s: &str, controllers: &str) -> Result<String> {
    for line in s.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrl, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        if ctrl == controllers {
            return Ok(path.to_string());
        }
    }
    bail!("no cgroup line for controllers {controllers:?} in /proc/self/cgroup")
}

fn populate_dev(root: &Root, devices: &[DevNode]) -> Result<()> {
    let in_userns = in_user_namespace();
    // Most nodes share /dev: each parent is made and opened once.
    let mut dirs: Vec<(&Path, pathrs::Handle)> = Vec::new();
    for d in devices {
        let parent = d.path.parent().unwrap_or(Path::new("/dev"));
        let name = d
            .path
            .file_name()
            .ok_or_else(|| anyhow!("device path {} has no name", d.path.display()))?;
        let i = match dirs.iter().position(|(p, _)| *p == parent) {
            Some(i) => i,
            None => {
                dirs.push((parent, mkdir_all(root, parent)?));
                dirs.len() - 1
            }
        };
        let dir = &dirs[i].1;
        // A FIFO needs no privilege to make; device nodes do.
        let made = if in_userns && d.kind != libc::S_IFIFO {
            Err(nix::Error::EPERM)
        } else {
            let kind = SFlag::from_bits_truncate(d.kind);
            mknodat(
                Some(dir.as_fd().as_raw_fd()),
                name,
                kind,
                Mode::from_bits_truncate(d.mode),
                libc::makedev(d.major as u32, d.minor as u32),
            )
        };
        match made {
            Ok(()) => {
                let node = root.resolve_nofollow(&d.path)?;
                let p = fd_path(node.as_fd());
                // chmod and chown through the O_PATH fd's magic link; the
                // umask must not trim the requested mode.
                std::fs::set_permissions(&p, Permissions::from_mode(d.mode))?;
                nix::unistd::chown(&p, Some(d.uid.into()), Some(d.gid.into()))?;
            }
            Err(nix::Error::EEXIST) => {}
            Err(nix::Error::EPERM) => {
                // Without the right to mknod (user namespaces), bind the
                // host's node instead, as runc does.
                let t = target(root, &d.path, true)?;
                mount(
                    Some(&d.path),
                    &fd_path(t.as_fd()),
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .with_context(|| format!("bind host device {}", d.path.display()))?;
            }
            Err(e) => return Err(e).with_context(|| format!("mknod {}", d.path.display())),
        }
    }
    for (link, to) in mounts::DEV_SYMLINKS {
        match root.create(link, &pathrs::InodeType::Symlink(PathBuf::from(to))) {
            Ok(()) => {}
            Err(e) if e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::EEXIST)) => {}
            Err(e) => return Err(e).with_context(|| format!("symlink {link}")),
        }
    }
    Ok(())
}

fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
        .unwrap_or(false)
}

fn mask(root: &Root, path: &str, devnull: &DevNull) -> Result<()> {
    let h = match root.resolve_nofollow(path) {
        Ok(h) => h,
        Err(e) if e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::ENOENT)) => {
            return Ok(())
        }
        Err(e) => return Err(e.into()),
    };
    let st = fstat(h.as_fd().as_raw_fd())?;
    let p = fd_path(h.as_fd());
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
        mount(
            Some("tmpfs"),
            &p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )?;
    } else {
        mount(
            Some(&fd_path(devnull.0.as_fd())),
            &p,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
    }
    Ok(())
}

fn readonly(root: &Root, path: &str) -> Result<()> {
    let h = match root.resolve_nofollow(path) {
        Ok(h) => h,
        Err(e) if e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::ENOENT)) => {
            return Ok(())
        }
        Err(e) => return Err(e.into()),
    };
    let p = fd_path(h.as_fd());
    mount(
        Some(&p),
        &p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    let h = root.resolve_nofollow(path)?;
    let p = fd_path(h.as_fd());
    let locked = locked_flags(&p)?;
    mount(
        None::<&str>,
        &p,
        None::<&str>,
        flags(locked | libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC),
        None::<&str>,
    )?;
    Ok(())
}

/// The mount point that holds `path` (the longest mount point prefix).
fn parent_mount(path: &Path) -> Result<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut best = PathBuf::from("/");
    for line in info.lines() {
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        let mp = PathBuf::from(unescape_mountinfo(mp));
        if path.starts_with(&mp) && mp.components().count() > best.components().count() {
            best = mp;
        }
    }
    Ok(best)
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal.
pub(crate) fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sets the root's propagation again once it is the root (a shared
/// propagation could not be in place for pivot_root).
pub fn root_propagation(plan: &Plan) -> Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        flags(plan.root_propagation),
        None::<&str>,
    )
    .context("set propagation of the container's /")
}

/// Makes `rootfs` the process's root: pivot_root, or chroot with
/// `--no-pivot` (for ramdisk roots where pivot_root is impossible).
pub fn switch_root(rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        chdir(rootfs)?;
        mount(
            Some(rootfs),
            "/",
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .context("move the rootfs to /")?;
        nix::unistd::chroot(".").context("chroot")?;
        chdir("/")?;
        return Ok(());
    }
    let old = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open("/")?;
    let new = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(rootfs)?;
    fchdir(new.as_raw_fd())?;
    // pivot_root(".", ".") stacks the old root on top of the new one; it is
    // then unmounted from there, without ever needing a directory for it
    // inside the container.
    pivot_root(".", ".").context("pivot_root")?;
    fchdir(old.as_raw_fd())?;
    // Make sure the unmount does not propagate to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )?;
    umount2(".", MntFlags::MNT_DETACH).context("detach the old root")?;
    chdir("/")?;
    Ok(())
}

/// Enters `rootfs` with chroot, for a container that shares its caller's
/// mount namespace (pivot_root needs a private one).
pub fn chroot(rootfs: &Path) -> Result<()> {
    chdir(rootfs).with_context(|| format!("chdir to {}", rootfs.display()))?;
    nix::unistd::chroot(".").context("chroot into the rootfs")?;
    chdir("/")?;
    Ok(())
}

/// Remounts `/` read-only (root.readonly), keeping its other flags.
pub fn readonly_root() -> Result<()> {
    let locked = locked_flags(Path::new("/"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        flags(locked | libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY),
        None::<&str>,
    )
    .context("remount / read-only")
}

/// Binds the container's terminal onto `/dev/console`.
pub fn bind_console(slave: &impl AsFd) -> Result<()> {
    // Runs after pivot_root: "/" is the container's root. /dev/console is
    // resolved there without following a symlink, and the terminal is bound
    // from its fd, not from a path.
    let root = Root::open("/")?;
    match root.create(
        "/dev/console",
        &pathrs::InodeType::File(Permissions::from_mode(0o600)),
    ) {
        Ok(()) => {}
        Err(e) if e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::EEXIST)) => {}
        Err(e) => return Err(e).context("create /dev/console"),
    }
    let console = root
        .resolve_nofollow("/dev/console")
        .context("resolve /dev/console")?;
    let st = fstat(console.as_fd().as_raw_fd())?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind != SFlag::S_IFREG && kind != SFlag::S_IFCHR {
        bail!("/dev/console in the container is neither a file nor a device");
    }
    mount(
        Some(&fd_path(slave.as_fd())),
        &fd_path(console.as_fd()),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .context("bind the terminal on /dev/console")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo(r"/a\040b\011c\134d"), "/a b\tc\\d");
        assert_eq!(unescape_mountinfo(r"/plain\09"), r"/plain\09");
    }

    #[test]
    fn parent_mount_of_a_path_is_a_prefix() {
        let p = parent_mount(Path::new("/proc/self")).unwrap();
        assert_eq!(p, Path::new("/proc"));
    }
}
