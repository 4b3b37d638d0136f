//! Network namespaces made and entered on a dedicated thread.
//!
//! `setns` changes only the calling thread. Doing it on a tokio worker would
//! leave that worker (and every task later scheduled on it) in the wrong
//! namespace, so every operation inside a namespace runs on a short-lived
//! thread of its own, with a guard that switches back even on panic. Sockets
//! made there stay bound to that namespace and can be handed to tokio.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};

/// Makes a new, empty network namespace kept alive by a bind mount at
/// `path` (a container's, before it is wired). Made on a thread of its own
/// that ends right after, so no other thread of the caller ever runs in it.
pub fn create(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    create_unnamed()?.bind_at(path)
}

/// Makes a new, empty network namespace that nothing but the returned value
/// keeps: it ends when that is dropped, with no mount to remove (a daemon
/// killed meanwhile leaves nothing behind). Made on a thread of its own,
/// as [`create`]'s. [`NetNs::bind_at`] gives it a path.
pub fn create_unnamed() -> io::Result<NetNs> {
    use nix::sched::unshare;
    let file = std::thread::spawn(move || -> io::Result<File> {
        unshare(CloneFlags::CLONE_NEWNET)?;
        File::open("/proc/thread-self/ns/net")
    })
    .join()
    .map_err(|_| io::Error::other("netns thread panicked"))??;
    let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    Ok(NetNs { file, path })
}

/// Unmounts and removes a namespace file made by [`create`]. Idempotent.
pub fn remove(path: &Path) {
    let _ = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(path);
}

/// An open network namespace (`/run/netns/<name>`, `/proc/<pid>/ns/net`).
#[derive(Debug)]
pub struct NetNs {
    file: File,
    path: PathBuf,
}

impl NetNs {
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path)?;
        Ok(Self { file, path })
    }

    /// The calling thread's namespace.
    pub fn current() -> io::Result<Self> {
        Self::open("/proc/thread-self/ns/net")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps this namespace at `path` too (a bind mount of it, as
    /// [`create`] makes), so that it outlives this value.
    pub fn bind_at(&self, path: &Path) -> io::Result<()> {
        use nix::mount::{mount, MsFlags};
        File::create(path)?;
        let fd = PathBuf::from(format!("/proc/thread-self/fd/{}", self.file.as_raw_fd()));
        mount(
            Some(&fd),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
        Ok(())
    }

    pub fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Run `f` on a new thread inside this namespace and return its result.
    pub fn run<F, T>(&self, f: F) -> io::Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        std::thread::scope(|s| {
            s.spawn(|| {
                let _guard = Entered::enter(self)?;
                Ok(f())
            })
            .join()
            .map_err(|_| {
                io::Error::other(format!(
                    "thread in namespace {} panicked",
                    self.path.display()
                ))
            })?
        })
    }
}

/// Switches the current thread into a namespace; back on drop.
struct Entered {
    original: File,
}

impl Entered {
    fn enter(ns: &NetNs) -> io::Result<Self> {
        let original = File::open("/proc/thread-self/ns/net")?;
        setns(ns.file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        Ok(Self { original })
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Err(e) = setns(self.original.as_fd(), CloneFlags::CLONE_NEWNET) {
            // The thread ends right after; nothing else runs in it.
            tracing::error!(error = %e, "could not switch back to the original network namespace");
        }
    }
}

/// Run an async netlink job inside `ns` on a dedicated thread with its own
/// single-threaded runtime; the netlink socket is made inside the namespace.
pub fn with_netlink<F, Fut, T, E>(ns: &NetNs, f: F) -> Result<T, E>
where
    F: FnOnce(rtnetlink::Handle) -> Fut + Send,
    Fut: std::future::Future<Output = Result<T, E>>,
    T: Send,
    E: From<io::Error> + Send,
{
    ns.run(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let (conn, handle, _) = rtnetlink::new_connection()?;
            let task = tokio::spawn(conn);
            let out = f(handle).await;
            task.abort();
            out
        })
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_in_own_namespace_keeps_caller_and_returns_value() {
        let before = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let ns = NetNs::current().unwrap();
        let inside = ns.run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap());
        // Entering one's own namespace needs CAP_SYS_ADMIN; without root the
        // error is returned instead of a panic.
        match inside {
            Ok(link) => assert_eq!(link, before),
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM)),
        }
        assert_eq!(
            std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
            before
        );
    }
}
