//! Validated identifiers: network names and network ids.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name or id was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("invalid network name {0:?}: it must start with a letter or digit and hold no '/' or control characters")]
    Network(String),
    #[error("invalid network id {0:?}: expected 64 lowercase hex digits")]
    Id(String),
}

/// A network name: dockerd takes nearly any (spaces too); here it starts
/// with a letter or digit (never a flag's `-`) and holds no `/` (it is a
/// path segment of the API) and no control character. Networks are stored
/// by id, so the name is never a file name. Only built through `TryFrom`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NetworkName(String);

impl NetworkName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NetworkName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        let mut chars = s.chars();
        let ok = match chars.next() {
            Some(c) if c.is_alphanumeric() => chars.all(|c| c != '/' && !c.is_control()),
            _ => false,
        };
        if ok {
            Ok(Self(s))
        } else {
            Err(NameError::Network(s))
        }
    }
}

impl TryFrom<&str> for NetworkName {
    type Error = NameError;
    fn try_from(s: &str) -> Result<Self, NameError> {
        Self::try_from(s.to_string())
    }
}

impl From<NetworkName> for String {
    fn from(n: NetworkName) -> String {
        n.0
    }
}

impl fmt::Display for NetworkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A network id: 64 lowercase hex digits, as Docker's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NetworkId(String);

impl NetworkId {
    /// A fresh random id from the kernel's random source.
    pub fn random() -> std::io::Result<Self> {
        let mut buf = [0u8; 32];
        let mut filled = 0;
        while filled < buf.len() {
            // SAFETY: the pointer and length describe the unfilled part of `buf`.
            let n = unsafe {
                libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0)
            };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            filled += n as usize;
        }
        Ok(Self(buf.iter().map(|b| format!("{b:02x}")).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 12-digit short form Docker prints.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl TryFrom<String> for NetworkId {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s))
        } else {
            Err(NameError::Id(s))
        }
    }
}

impl From<NetworkId> for String {
    fn from(n: NetworkId) -> String {
        n.0
    }
}

impl fmt::Display for NetworkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_names_follow_dockers_rule() {
        for ok in [
            "todo-app", "a", "A_b.c-d", "0net", "bridge", "my net", "a:b", "é",
        ] {
            assert!(NetworkName::try_from(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "-x", ".x", "_x", " x", "a/b", "../etc", "a\nb", "a\u{0}b",
        ] {
            assert_eq!(
                NetworkName::try_from(bad),
                Err(NameError::Network(bad.to_string())),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_are_checked_when_deserialized() {
        assert!(serde_json::from_str::<NetworkName>("\"../x\"").is_err());
        let n: NetworkName = serde_json::from_str("\"todo-app\"").unwrap();
        assert_eq!(n.as_str(), "todo-app");
    }

    #[test]
    fn random_ids_are_64_hex_and_differ() {
        let a = NetworkId::random().unwrap();
        let b = NetworkId::random().unwrap();
        assert_ne!(a, b);
        assert!(NetworkId::try_from(a.to_string()).is_ok());
        assert_eq!(a.short().len(), 12);
        assert!(NetworkId::try_from("ABC".to_string()).is_err());
        assert!(NetworkId::try_from("g".repeat(64)).is_err());
    }
}
