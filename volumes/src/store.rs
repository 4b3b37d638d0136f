//! The volume store: `<state>/volumes/<name>/_data` holds a volume's
//! content, `volume.json` its metadata, `users.json` the containers using
//! it.
//!
//! Every change happens under an exclusive `flock` on `volumes/.lock`, so
//! threads of one daemon and separate processes (a second daemon, a test)
//! serialise. Every metadata file is written atomically (temp file, fsync,
//! rename, fsync of the directory). A volume is created in a `.tmp-*`
//! directory and renamed into place whole, and removed by renaming it to a
//! `.trash-*` directory first, so after a crash a volume either exists
//! completely or not at all; opening the store clears the leftovers. Names
//! starting with `.` can never be volume names, so leftovers and volumes
//! cannot collide.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::copyup::{self, CopyError, CopyOutcome};
use crate::driver::{self, Backing, DriverError};
use crate::filters::{Candidate, ListFilters, PruneFilters};
use crate::name::{random_hex_id, VolumeName};

/// Label Docker puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

const META_FILE: &str = "volume.json";
const USERS_FILE: &str = "users.json";
const DATA_DIR: &str = "_data";
const LOCK_FILE: &str = ".lock";
const TMP_PREFIX: &str = ".tmp-";
const TRASH_PREFIX: &str = ".trash-";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {path:?}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("get {0}: no such volume")]
    NotFound(VolumeName),
    #[error("remove {name}: volume is in use - [{}]", containers.join(" "))]
    InUse {
        name: VolumeName,
        containers: Vec<String>,
    },
    #[error(
        "create {0}: a volume with this name already exists with different driver, options or labels"
    )]
    Conflict(VolumeName),
    #[error("create {name}: {source}")]
    Options { name: String, source: DriverError },
    #[error("volume {name}: {source}")]
    Driver {
        name: VolumeName,
        source: DriverError,
    },
    #[error("volume {name}: {source}")]
    CopyUp { name: VolumeName, source: CopyError },
    #[error("volume metadata {path:?} is unreadable: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("invalid container id {0:?}")]
    ContainerId(String),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { op, path, source }
}

/// What is stored in `volume.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    name: VolumeName,
    driver: String,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
    created_at: String,
    scope: String,
}

/// What is stored in `users.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Users {
    containers: BTreeSet<String>,
}

/// A volume as Docker's API shows it (`GET /volumes/{name}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub mountpoint: PathBuf,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<BTreeMap<String, serde_json::Value>>,
    pub labels: BTreeMap<String, String>,
    pub scope: String,
    pub options: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usage_data: Option<UsageData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsageData {
    /// Bytes used, or -1 when not computed (as Docker).
    pub size: i64,
    /// Number of containers using the volume.
    pub ref_count: i64,
}

impl Volume {
    pub fn is_anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// `POST /volumes/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRequest {
    /// `None` creates an anonymous volume with a random name.
    pub name: Option<VolumeName>,
    /// `None` means `local`.
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// `POST /volumes/prune`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PruneReport {
    pub volumes_deleted: Vec<String>,
    pub space_reclaimed: u64,
}

pub struct VolumeStore {
    root: PathBuf,
}

/// The store's exclusive lock, held for the duration of one change.
struct Locked {
    _lock: Flock<File>,
}

impl VolumeStore {
    /// Open (creating if needed) the store at `<state-dir>/volumes` and
    /// clear what a crash may have left half-made.
    pub fn open(dir: impl AsRef<Path>) -> Result<VolumeStore> {
        let dir = dir.as_ref();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o701)
            .create(dir)
            .map_err(io_err("create", dir))?;
        let root = fs::canonicalize(dir).map_err(io_err("resolve", dir))?;
        let store = VolumeStore { root };
        let _guard = store.lock()?;
        store.clear_leftovers()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host directory holding a volume's content (its `Mountpoint`).
    pub fn data_path(&self, name: &VolumeName) -> PathBuf {
        self.root.join(name.as_str()).join(DATA_DIR)
    }

    fn dir(&self, name: &VolumeName) -> PathBuf {
        self.root.join(name.as_str())
    }

    fn lock(&self) -> Result<Locked> {
        let path = self.root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| StoreError::Io {
                op: "lock",
                path,
                source: io::Error::from_raw_os_error(errno as i32),
            })?;
        Ok(Locked { _lock: lock })
    }

    fn clear_leftovers(&self) -> Result<()> {
        for entry in fs::read_dir(&self.root).map_err(io_err("read", &self.root))? {
            let entry = entry.map_err(io_err("read", &self.root))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(TMP_PREFIX) || name.starts_with(TRASH_PREFIX) {
                let path = entry.path();
                // A leftover never holds a mount: creation mounts nothing
                // and removal unmounts before it renames.
                let data = path.join(DATA_DIR);
                if driver::is_mount_point(&data).map_err(io_err("read mountinfo", &data))? {
                    tracing::warn!(path = %path.display(), "leftover volume directory is still mounted; left alone");
                    continue;
                }
                tracing::info!(path = %path.display(), "removing a half-made volume directory left by a crash");
                fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
            } else if VolumeName::try_from(name.as_ref()).is_ok() {
                self.clear_temp_files(&entry.path())?;
            }
        }
        Ok(())
    }

    /// Remove the temp files of metadata writes cut short (`.<file>.<id>`).
    fn clear_temp_files(&self, dir: &Path) -> Result<()> {
        let Ok(entries) = fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_temp = [META_FILE, USERS_FILE]
                .iter()
                .any(|f| name.starts_with(&format!(".{f}.")));
            if is_temp {
                let path = entry.path();
                fs::remove_file(&path).map_err(io_err("remove", &path))?;
            }
        }
        Ok(())
    }

    fn read_meta(&self, name: &VolumeName) -> Result<Option<Meta>> {
        let path = self.dir(name).join(META_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if &meta.name != name {
            return Err(StoreError::Corrupt {
                path,
                reason: format!("it names volume {}", meta.name),
            });
        }
        Ok(Some(meta))
    }

    fn meta(&self, name: &VolumeName) -> Result<Meta> {
        self.read_meta(name)?
            .ok_or_else(|| StoreError::NotFound(name.clone()))
    }

    fn read_users(&self, name: &VolumeName) -> Result<Users> {
        let path = self.dir(name).join(USERS_FILE);
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Corrupt {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Users::default()),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    fn write_users(&self, name: &VolumeName, users: &Users) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(users).expect("users serialise");
        write_atomic(&self.dir(name), USERS_FILE, &bytes)
    }

    fn view(&self, meta: Meta, users: &Users) -> Volume {
        Volume {
            mountpoint: self.data_path(&meta.name),
            name: meta.name.to_string(),
            driver: meta.driver,
            created_at: meta.created_at,
            status: None,
            labels: meta.labels,
            scope: meta.scope,
            options: meta.options,
            usage_data: Some(UsageData {
                size: -1,
                ref_count: users.containers.len() as i64,
            }),
        }
    }

    /// Create a volume. Creating an existing volume again with the same
    /// driver, options and labels returns it; anything different is an error.
    pub fn create(&self, req: &CreateRequest) -> Result<Volume> {
        let mut labels = req.labels.clone();
        let name = match &req.name {
            Some(n) => n.clone(),
            None => {
                labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
                VolumeName::random()
            }
        };
        let driver = req.driver.clone().unwrap_or_else(|| "local".to_string());
        driver::parse_options(&driver, &req.driver_opts).map_err(|source| StoreError::Options {
            name: name.to_string(),
            source,
        })?;
        let wanted = Meta {
            name: name.clone(),
            driver,
            labels,
            options: req.driver_opts.clone(),
            created_at: now_rfc3339(),
            scope: "local".to_string(),
        };
        let _guard = self.lock()?;
        if let Some(existing) = self.read_meta(&name)? {
            let same = existing.driver == wanted.driver
                && existing.options == wanted.options
                && existing.labels == wanted.labels;
            if !same {
                return Err(StoreError::Conflict(name));
            }
            let users = self.read_users(&name)?;
            return Ok(self.view(existing, &users));
        }
        self.create_locked(&wanted)?;
        Ok(self.view(wanted, &Users::default()))
    }

    /// The volume named by `-v name:/path`: the existing one whatever its
    /// options, or a new plain local volume. Returns whether it was created.
    pub fn ensure(&self, name: &VolumeName) -> Result<(Volume, bool)> {
        self.ensure_with(name, &BTreeMap::new(), &BTreeMap::new())
    }

    /// As [`ensure`](Self::ensure), with the driver options and labels of a
    /// `--mount volume-opt=…,volume-label=…` used only if it is created.
    pub fn ensure_with(
        &self,
        name: &VolumeName,
        driver_opts: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> Result<(Volume, bool)> {
        driver::parse_options("local", driver_opts).map_err(|source| StoreError::Options {
            name: name.to_string(),
            source,
        })?;
        let _guard = self.lock()?;
        if let Some(existing) = self.read_meta(name)? {
            let users = self.read_users(name)?;
            return Ok((self.view(existing, &users), false));
        }
        let meta = Meta {
            name: name.clone(),
            driver: "local".into(),
            labels: labels.clone(),
            options: driver_opts.clone(),
            created_at: now_rfc3339(),
            scope: "local".into(),
        };
        self.create_locked(&meta)?;
        Ok((self.view(meta, &Users::default()), true))
    }

    /// Create an anonymous volume with the given (random) name, for an
    /// image `VOLUME` or `-v /path`.
    pub fn create_anonymous(&self, name: &VolumeName) -> Result<Volume> {
        let labels = BTreeMap::from([(ANONYMOUS_LABEL.to_string(), String::new())]);
        self.create(&CreateRequest {
            name: Some(name.clone()),
            labels,
            ..Default::default()
        })
    }

    fn create_locked(&self, meta: &Meta) -> Result<()> {
        let tmp = self.root.join(format!("{TMP_PREFIX}{}", random_hex_id()));
        let result = self.create_in(&tmp, meta);
        if result.is_err() {
            // Best effort: open() clears it anyway.
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    fn create_in(&self, tmp: &Path, meta: &Meta) -> Result<()> {
        fs::DirBuilder::new()
            .mode(0o755)
            .create(tmp)
            .map_err(io_err("create", tmp))?;
        let data = tmp.join(DATA_DIR);
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&data)
            .map_err(io_err("create", &data))?;
        let bytes = serde_json::to_vec_pretty(meta).expect("metadata serialises");
        write_atomic(tmp, META_FILE, &bytes)?;
        let dest = self.dir(&meta.name);
        rename_noreplace(tmp, &dest)?;
        fsync_dir(&self.root)
    }

    /// Inspect a volume.
    pub fn get(&self, name: &VolumeName) -> Result<Volume> {
        let meta = self.meta(name)?;
        let users = self.read_users(name)?;
        Ok(self.view(meta, &users))
    }

    /// Every volume matching `filters`, sorted by name.
    pub fn list(&self, filters: &ListFilters) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        for name in self.names()? {
            // A volume removed while we list is simply not listed; nor is
            // one whose metadata is damaged (start-up named it once).
            let meta = match self.read_meta(&name) {
                Ok(Some(meta)) => meta,
                Ok(None) | Err(StoreError::Corrupt { .. }) => continue,
                Err(e) => return Err(e),
            };
            let users = self.read_users(&name)?;
            let c = Candidate {
                name: name.as_str(),
                driver: &meta.driver,
                labels: &meta.labels,
                in_use: !users.containers.is_empty(),
            };
            if filters.matches(&c) {
                out.push(self.view(meta, &users));
            }
        }
        Ok(out)
    }

    fn names(&self) -> Result<Vec<VolumeName>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io_err("read", &self.root))? {
            let entry = entry.map_err(io_err("read", &self.root))?;
            let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(|n| VolumeName::try_from(n).ok())
            else {
                continue;
            };
            if entry
                .file_type()
                .map_err(io_err("stat", &entry.path()))?
                .is_dir()
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The containers using a volume.
    pub fn users(&self, name: &VolumeName) -> Result<Vec<String>> {
        self.meta(name)?;
        Ok(self.read_users(name)?.containers.into_iter().collect())
    }

    /// Remove a volume. Refused while a container uses it, even with
    /// `force` (as Docker); `force` only makes a missing volume no error.
    pub fn remove(&self, name: &VolumeName, force: bool) -> Result<()> {
        let _guard = self.lock()?;
        match self.read_meta(name)? {
            None if force => Ok(()),
            None => Err(StoreError::NotFound(name.clone())),
            Some(_) => self.remove_locked(name).map(drop),
        }
    }

    /// Remove a volume only if it is anonymous (for `rm -v` and `--rm`).
    /// Returns whether it was removed; a named volume is never touched.
    pub fn remove_if_anonymous(&self, name: &VolumeName) -> Result<bool> {
        let _guard = self.lock()?;
        match self.read_meta(name)? {
            Some(meta) if meta.labels.contains_key(ANONYMOUS_LABEL) => {
                self.remove_locked(name)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Remove under the lock; returns the bytes freed.
    fn remove_locked(&self, name: &VolumeName) -> Result<u64> {
        let users = self.read_users(name)?;
        if !users.containers.is_empty() {
            return Err(StoreError::InUse {
                name: name.clone(),
                containers: users.containers.into_iter().collect(),
            });
        }
        // Unmount first: a named bind must never have its host directory
        // deleted through the volume.
        let data = self.data_path(name);
        self.unmount_if_mounted(name)?;
        if driver::is_mount_point(&data).map_err(io_err("read mountinfo", &data))? {
            return Err(StoreError::Driver {
                name: name.clone(),
                source: DriverError::Unmount {
                    target: data,
                    errno: nix::errno::Errno::EBUSY,
                },
            });
        }
        let size = disk_usage(&data);
        let trash = self.root.join(format!("{TRASH_PREFIX}{}", random_hex_id()));
        let dir = self.dir(name);
        fs::rename(&dir, &trash).map_err(io_err("rename", &dir))?;
        fsync_dir(&self.root)?;
        fs::remove_dir_all(&trash).map_err(io_err("remove", &trash))?;
        Ok(size)
    }

    /// Remove unused volumes: anonymous ones, or all with `all=true`, that
    /// match the label filters.
    pub fn prune(&self, filters: &PruneFilters) -> Result<PruneReport> {
        let _guard = self.lock()?;
        let mut report = PruneReport::default();
        for name in self.names()? {
            let Some(meta) = self.read_meta(&name)? else {
                continue;
            };
            if !self.read_users(&name)?.containers.is_empty() {
                continue;
            }
            if !filters.matches(&meta.labels, meta.labels.contains_key(ANONYMOUS_LABEL)) {
                continue;
            }
            report.space_reclaimed += self.remove_locked(&name)?;
            report.volumes_deleted.push(name.to_string());
        }
        Ok(report)
    }

    /// Record that `container` uses the volume and, for a volume with a
    /// mount (tmpfs, named bind, …), mount it if it is not mounted yet.
    /// Returns the host path to bind into the container.
    ///
    /// The use is recorded before the mount, so a crash in between leaves
    /// the volume looking used (never the reverse); a repeated acquire by
    /// the same container is harmless and mounts what is missing.
    pub fn acquire(&self, name: &VolumeName, container: &str) -> Result<PathBuf> {
        check_container_id(container)?;
        let _guard = self.lock()?;
        let meta = self.meta(name)?;
        let mut users = self.read_users(name)?;
        let added = users.containers.insert(container.to_string());
        if added {
            self.write_users(name, &users)?;
        }
        if let Err(e) = self.mount_if_needed(&meta) {
            if added {
                users.containers.remove(container);
                self.write_users(name, &users)?;
            }
            return Err(e);
        }
        Ok(self.data_path(name))
    }

    /// Record that `container` stopped using the volume; unmount the
    /// volume's own mount when it was the last user.
    pub fn release(&self, name: &VolumeName, container: &str) -> Result<()> {
        let _guard = self.lock()?;
        self.release_locked(name, container)
    }

    fn release_locked(&self, name: &VolumeName, container: &str) -> Result<()> {
        self.meta(name)?;
        let mut users = self.read_users(name)?;
        if users.containers.remove(container) {
            self.write_users(name, &users)?;
        }
        if users.containers.is_empty() {
            self.unmount_if_mounted(name)?;
        }
        Ok(())
    }

    /// Start-up reconciliation: forget users that are not among `live`
    /// containers (they died with a crash), unmounting what they left.
    /// Returns the (volume, container) pairs released.
    pub fn reconcile(&self, live: &BTreeSet<String>) -> Result<Vec<(VolumeName, String)>> {
        let _guard = self.lock()?;
        let mut released = Vec::new();
        for name in self.names()? {
            match self.read_meta(&name) {
                Ok(Some(_)) => {}
                Ok(None) => continue,
                // Damaged outside rrun: named once here, left as it is
                // (its data is the user's), and every other volume goes on.
                Err(e @ StoreError::Corrupt { .. }) => {
                    tracing::error!(
                        "volume {name}: {e}; it is not loaded (fix or remove it), the others are"
                    );
                    continue;
                }
                Err(e) => return Err(e),
            }
            let users = self.read_users(&name)?;
            let dead: Vec<String> = users
                .containers
                .iter()
                .filter(|c| !live.contains(*c))
                .cloned()
                .collect();
            for c in dead {
                self.release_locked(&name, &c)?;
                released.push((name.clone(), c));
            }
            if self.read_users(&name)?.containers.is_empty() {
                self.unmount_if_mounted(&name)?;
            }
        }
        Ok(released)
    }

    fn mount_if_needed(&self, meta: &Meta) -> Result<()> {
        let backing = driver::parse_options(&meta.driver, &meta.options).map_err(|source| {
            StoreError::Driver {
                name: meta.name.clone(),
                source,
            }
        })?;
        if backing == Backing::Directory {
            return Ok(());
        }
        let data = self.data_path(&meta.name);
        if driver::is_mount_point(&data).map_err(io_err("read mountinfo", &data))? {
            return Ok(());
        }
        tracing::debug!(volume = %meta.name, "mounting volume");
        driver::mount(&backing, &data).map_err(|source| StoreError::Driver {
            name: meta.name.clone(),
            source,
        })
    }

    fn unmount_if_mounted(&self, name: &VolumeName) -> Result<()> {
        let data = self.data_path(name);
        if driver::is_mount_point(&data).map_err(io_err("read mountinfo", &data))? {
            tracing::debug!(volume = %name, "unmounting volume");
            driver::unmount(&data).map_err(|source| StoreError::Driver {
                name: name.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Docker's copy-up: fill the volume with what the image (unpacked at
    /// `rootfs`) has at `container_path`, if the volume is empty. Call it
    /// after [`acquire`](Self::acquire), so a tmpfs or bind volume is
    /// mounted and the copy lands in it. Skip it for `nocopy`.
    ///
    /// The store-wide lock is held only to find the volume; the copy runs
    /// under a lock of that volume alone, so two containers starting on one
    /// new volume copy once, and other volumes are not held up meanwhile.
    pub fn copy_up(
        &self,
        name: &VolumeName,
        rootfs: &Path,
        container_path: &str,
    ) -> Result<CopyOutcome> {
        let volume_dir = {
            let _guard = self.lock()?;
            self.meta(name)?;
            let dir = self.dir(name);
            File::open(&dir).map_err(io_err("open", &dir))?
        };
        let _volume_lock =
            Flock::lock(volume_dir, FlockArg::LockExclusive).map_err(|(_, errno)| {
                StoreError::Io {
                    op: "lock",
                    path: self.dir(name),
                    source: io::Error::from_raw_os_error(errno as i32),
                }
            })?;
        copyup::copy_up_from_rootfs(rootfs, container_path, &self.data_path(name)).map_err(
            |source| StoreError::CopyUp {
                name: name.clone(),
                source,
            },
        )
    }
}

fn check_container_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 256 || id.chars().any(|c| c.is_control()) {
        return Err(StoreError::ContainerId(id.to_string()));
    }
    Ok(())
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Write `dir/file` atomically: temp file, fsync, rename, fsync dir.
fn write_atomic(dir: &Path, file: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{file}.{}", random_hex_id()));
    let dest = dir.join(file);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
        fs::rename(&tmp, &dest).map_err(io_err("rename", &tmp))?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync", dir))
}

fn rename_noreplace(from: &Path, to: &Path) -> Result<()> {
    nix::fcntl::renameat2(
        None,
        from,
        None,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(|e| StoreError::Io {
        op: "rename",
        path: to.to_path_buf(),
        source: io::Error::from_raw_os_error(e as i32),
    })
}

/// Bytes used by regular files under `path`, not following symlinks and not
/// crossing into other filesystems.
fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fn walk(p: &Path, dev: u64) -> u64 {
        let Ok(md) = fs::symlink_metadata(p) else {
            return 0;
        };
        if md.dev() != dev {
            return 0;
        }
        if md.is_dir() {
            fs::read_dir(p)
                .map(|rd| rd.flatten().map(|e| walk(&e.path(), dev)).sum())
                .unwrap_or(0)
        } else if md.is_file() {
            md.len()
        } else {
            0
        }
    }
    match fs::symlink_metadata(path) {
        Ok(md) => walk(path, md.dev()),
        Err(_) => 0,
    }
}
