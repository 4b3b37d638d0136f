//! Helpers of the loader's tests: a project directory of their own, options
//! pointing at it, loads from text.
#![allow(dead_code)]

use rrun_compose::{load, load_from_str, LoadError, LoadOptions, Project};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory removed when dropped, unique to the test.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir()
            .join(format!("rrun-compose-{}-{n}", std::process::id()))
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn opts(&self) -> LoadOptions {
        LoadOptions {
            working_dir: self.0.clone(),
            environment: [("HOME".to_string(), "/home/tester".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

/// Loads `yaml` as `compose.yaml` of a fresh directory named `myapp`.
pub fn project(yaml: &str) -> Project {
    try_project(yaml).unwrap_or_else(|e| panic!("{e}"))
}

pub fn try_project(yaml: &str) -> Result<Project, LoadError> {
    let dir = Dir::new("myapp");
    let mut opts = dir.opts();
    opts.files = vec![PathBuf::from("compose.yaml")];
    load_from_str(yaml, &opts)
}

/// The one-line error of loading `yaml`.
pub fn error(yaml: &str) -> String {
    match try_project(yaml) {
        Ok(p) => panic!("loaded, expected an error: {p:?}"),
        Err(e) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "more than one line: {line}");
            line
        }
    }
}

pub fn load_dir(dir: &Dir, opts: LoadOptions) -> Project {
    let _ = dir;
    load(&opts).unwrap_or_else(|e| panic!("{e}"))
}
