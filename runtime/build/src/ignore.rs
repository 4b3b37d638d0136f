//! `.dockerignore`, as Docker's pattern matcher reads it: one pattern a
//! line, `#` comments, blank lines skipped, each pattern cleaned
//! (`./a/../b` is `b`, a leading `/` dropped); `*` and `?` never cross a
//! `/`, `**` spans any number of directories; a pattern that matches a
//! directory excludes everything under it; `!pattern` re-includes, and
//! the last pattern that matches a path (or one of its parents) decides.

use globset::{GlobBuilder, GlobMatcher};

use crate::error::BuildError;

#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    glob: GlobMatcher,
    exception: bool,
}

/// `filepath.Clean` for relative, slash-separated paths.
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !p.starts_with('/') {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

impl DockerIgnore {
    pub fn parse(text: &str) -> Result<DockerIgnore, BuildError> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            if pattern.is_empty() {
                return Err(BuildError::Ignore {
                    line: n + 1,
                    detail: "illegal exclusion pattern: \"!\"".into(),
                });
            }
            let pattern = clean(pattern);
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| BuildError::Ignore {
                    line: n + 1,
                    detail: format!("bad pattern {pattern:?}: {e}"),
                })?;
            rules.push(Rule {
                glob: glob.compile_matcher(),
                exception,
            });
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether the context path `rel` (slash-separated, relative) is left
    /// out of the build.
    pub fn excluded(&self, rel: &str) -> bool {
        let rel = clean(rel);
        let parts: Vec<&str> = rel.split('/').collect();
        let mut excluded = false;
        for r in &self.rules {
            let hit = r.glob.is_match(&rel)
                || (1..parts.len()).any(|i| r.glob.is_match(parts[..i].join("/")));
            if hit {
                excluded = !r.exception;
            }
        }
        excluded
    }

    /// Whether some exception could re-include something under an
    /// excluded directory (then the directory must still be walked).
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_semantics() {
        let ig = DockerIgnore::parse(
            "# comment\n\n*.log\n!keep.log\nbuild\n/tmp/*\n**/*.bak\nsecrets/**\n!secrets/public.txt\n./a/../notes.md\n",
        )
        .unwrap();
        assert!(ig.excluded("x.log"));
        assert!(!ig.excluded("keep.log"));
        // `*` does not cross a directory.
        assert!(!ig.excluded("sub/x.log"));
        assert!(ig.excluded("build"));
        assert!(ig.excluded("build/out/bin"));
        assert!(ig.excluded("tmp/file"));
        assert!(!ig.excluded("tmp"));
        assert!(ig.excluded("deep/er/f.bak"));
        assert!(ig.excluded("f.bak"));
        assert!(ig.excluded("secrets/key"));
        assert!(!ig.excluded("secrets/public.txt"));
        assert!(ig.excluded("notes.md"));
        assert!(!ig.excluded("src/main.rs"));
        assert!(ig.has_exceptions());
    }

    #[test]
    fn last_match_wins_and_errors_name_the_line() {
        let ig = DockerIgnore::parse("*\n!src\nsrc/gen\n").unwrap();
        assert!(ig.excluded("README"));
        assert!(!ig.excluded("src/lib.rs"));
        assert!(ig.excluded("src/gen/x.rs"));
        let e = DockerIgnore::parse("ok\n!\n").unwrap_err().to_string();
        assert!(e.starts_with(".dockerignore:2: "), "{e}");
        let e = DockerIgnore::parse("a\n[z-a\n").unwrap_err().to_string();
        assert!(e.starts_with(".dockerignore:2: "), "{e}");
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean("./a/b/../c/"), "a/c");
        assert_eq!(clean("/abs"), "abs");
        assert_eq!(clean("../x"), "../x");
        assert_eq!(clean(""), ".");
    }
}
