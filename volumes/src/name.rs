//! Volume names, checked once at the boundary.
//!
//! A [`VolumeName`] can only be built through `TryFrom`, so every name that
//! reaches the store already matches Docker's rule for local volumes,
//! `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. That rule alone keeps a name from naming
//! anything but one entry of the store's directory: no `/`, and no `.` or
//! `..` since the first character is alphanumeric.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest name accepted: one path component on Linux.
pub const MAX_NAME_LEN: usize = 255;

/// The pattern a name must match, as Docker prints it in its error.
pub const NAME_PATTERN: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("volume name cannot be empty")]
    Empty,
    #[error(
        "{0:?} includes invalid characters for a local volume name, only \"{NAME_PATTERN}\" \
         are allowed. If you intended to pass a host directory, use absolute path"
    )]
    InvalidCharacters(String),
    #[error("volume name {0:?} is too long: at most {MAX_NAME_LEN} bytes are allowed")]
    TooLong(String),
}

/// A valid local volume name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VolumeName(String);

impl VolumeName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fresh name for an anonymous volume: 64 random hex digits, like Docker.
    pub fn random() -> VolumeName {
        VolumeName(random_hex_id())
    }
}

/// 32 random bytes as 64 lowercase hex digits.
pub fn random_hex_id() -> String {
    let mut bytes = [0u8; 32];
    // getrandom only fails when the kernel has no entropy source at all,
    // which a container host cannot run without.
    getrandom::getrandom(&mut bytes).expect("the kernel random source is unavailable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(NameError::Empty);
    };
    let valid = first.is_ascii_alphanumeric()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err(NameError::InvalidCharacters(name.to_string()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(name.to_string()));
    }
    Ok(())
}

impl TryFrom<String> for VolumeName {
    type Error = NameError;

    fn try_from(name: String) -> Result<Self, NameError> {
        check(&name)?;
        Ok(VolumeName(name))
    }
}

impl TryFrom<&str> for VolumeName {
    type Error = NameError;

    fn try_from(name: &str) -> Result<Self, NameError> {
        check(name)?;
        Ok(VolumeName(name.to_string()))
    }
}

impl From<VolumeName> for String {
    fn from(name: VolumeName) -> String {
        name.0
    }
}

impl AsRef<str> for VolumeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VolumeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_docker_names() {
        for name in [
            "a",
            "todo-mysql-data",
            "A1_b.c-d",
            "0",
            "x".repeat(255).as_str(),
        ] {
            let parsed = VolumeName::try_from(name).unwrap();
            assert_eq!(parsed.as_str(), name);
        }
    }

    #[test]
    fn rejects_names_that_could_leave_the_store() {
        for name in [
            "..", ".", "../etc", "a/b", "/abs", "_data", "-x", ".hidden", "a b", "a\0b", "é",
        ] {
            let err = VolumeName::try_from(name).unwrap_err();
            assert_eq!(
                err,
                NameError::InvalidCharacters(name.to_string()),
                "{name}"
            );
        }
        assert_eq!(VolumeName::try_from(""), Err(NameError::Empty));
        let long = "x".repeat(256);
        assert_eq!(
            VolumeName::try_from(long.as_str()),
            Err(NameError::TooLong(long.clone()))
        );
    }

    #[test]
    fn error_wording_is_dockers() {
        let err = VolumeName::try_from("a/b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"a/b\" includes invalid characters for a local volume name, only \
             \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host \
             directory, use absolute path"
        );
    }

    #[test]
    fn deserializing_checks_the_name() {
        let ok: VolumeName = serde_json::from_str("\"data\"").unwrap();
        assert_eq!(ok.as_str(), "data");
        assert!(serde_json::from_str::<VolumeName>("\"../x\"").is_err());
    }

    #[test]
    fn random_names_are_64_hex_and_distinct() {
        let a = VolumeName::random();
        let b = VolumeName::random();
        assert_eq!(a.as_str().len(), 64);
        assert!(a
            .as_str()
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}
