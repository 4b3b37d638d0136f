//! Image references as Docker reads them: `mysql:5.7` is
//! `docker.io/library/mysql:5.7`, `registry.example.com:5000/team/app@sha256:…`
//! names a registry with a port and pins a digest.
//!
//! The grammar is distribution/reference's (`reference.go`, `normalize.go`),
//! written as small hand-rolled matchers instead of regular expressions:
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path-component ( "/" path-component )*
//! domain     := host [ ":" port ]        host: dns labels, or "[" ipv6 "]"
//! path-comp  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [\w][\w.-]{0,127}
//! digest     := algorithm ":" hex
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Docker Hub's canonical registry name.
pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a reference or digest was refused. The text matches Docker's where
/// Docker has one, so users recognise it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format: {0:?}")]
    Format(String),
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    NameNotCanonical(String),
    #[error("repository name must have at least one component")]
    NameEmpty,
    #[error("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters: {0:?}")]
    NameTooLong(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    LooksLikeImageId(String),
    #[error("invalid tag {0:?}: a tag is up to 128 letters, digits, '_', '.', '-', not starting with '.' or '-'")]
    Tag(String),
    #[error("invalid digest {0:?}: {1}")]
    Digest(String, &'static str),
}

/// A content digest such as `sha256:<64 hex>`. Only well-formed digests of a
/// known algorithm can be built.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest {
    algorithm: DigestAlgorithm,
    hex: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha384 => "sha384",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }
    fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha384 => 96,
            DigestAlgorithm::Sha512 => 128,
        }
    }
}

impl Digest {
    /// A sha256 digest from the raw hash bytes.
    pub fn sha256_from_bytes(bytes: &[u8]) -> Digest {
        Digest {
            algorithm: DigestAlgorithm::Sha256,
            hex: hex::encode(bytes),
        }
    }

    /// sha256 of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest::sha256_from_bytes(&sha2::Sha256::digest(data))
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The lowercase hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl FromStr for Digest {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Digest, ReferenceError> {
        let err = |why| ReferenceError::Digest(s.to_string(), why);
        let (alg, hex) = s.split_once(':').ok_or_else(|| err("missing ':'"))?;
        let algorithm = match alg {
            "sha256" => DigestAlgorithm::Sha256,
            "sha384" => DigestAlgorithm::Sha384,
            "sha512" => DigestAlgorithm::Sha512,
            a if is_digest_algorithm(a) => return Err(err("unsupported digest algorithm")),
            _ => return Err(err("invalid checksum digest format")),
        };
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) || hex.is_empty() {
            return Err(err("invalid checksum digest format"));
        }
        if hex.len() != algorithm.hex_len() {
            return Err(err("invalid checksum digest length"));
        }
        if hex.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err("invalid checksum digest format"));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

impl TryFrom<String> for Digest {
    type Error = ReferenceError;
    fn try_from(s: String) -> Result<Digest, ReferenceError> {
        s.parse()
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.to_string()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

/// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*`
fn is_digest_algorithm(s: &str) -> bool {
    !s.is_empty()
        && s.split(['-', '_', '+', '.']).all(|part| {
            let mut b = part.bytes();
            matches!(b.next(), Some(c) if c.is_ascii_alphabetic())
                && b.all(|c| c.is_ascii_alphanumeric())
        })
}

/// A fully normalised reference: registry domain, repository path, and a tag
/// and/or digest (a bare name gets `latest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses what a user typed, normalising as `docker pull` does.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        parse_normalized(s)
    }

    /// The registry host (and port): `docker.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }
    /// The repository path inside the registry: `library/mysql`.
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
    /// `docker.io/library/mysql`
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }
    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !is_tag(tag) {
            return Err(ReferenceError::Tag(tag.to_string()));
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }
    /// The same repository pinned to a digest (tag dropped).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }
    /// What the tag or digest part of a manifest URL should be.
    pub fn manifest_selector(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }
    /// Docker's short form: `mysql:5.7`, `nicolaka/netshoot:latest`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
    /// `mysql`, `nicolaka/netshoot`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s)
    }
}
impl TryFrom<String> for Reference {
    type Error = ReferenceError;
    fn try_from(s: String) -> Result<Reference, ReferenceError> {
        Reference::parse(&s)
    }
}
impl From<Reference> for String {
    fn from(r: Reference) -> String {
        r.to_string()
    }
}

fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
    if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ReferenceError::LooksLikeImageId(s.to_string()));
    }
    if s.is_empty() {
        return Err(ReferenceError::NameEmpty);
    }
    let format_err = || ReferenceError::Format(s.to_string());

    // name[:tag][@digest]
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    let digest = match digest {
        Some(d) if is_digest_algorithm(d.split(':').next().unwrap_or("")) && d.contains(':') => {
            Some(d.parse::<Digest>()?)
        }
        Some(_) => return Err(format_err()),
        None => None,
    };
    let last_slash = rest.rfind('/');
    let (name, tag) = match rest.rfind(':') {
        Some(i) if last_slash.is_none_or(|j| i > j) => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(t) = tag {
        if !is_tag(t) {
            return Err(format_err());
        }
    }
    if name.is_empty() {
        return Err(if tag.is_some() || digest.is_some() {
            format_err()
        } else {
            ReferenceError::NameEmpty
        });
    }

    // splitDockerDomain: the first component is a domain only when it looks
    // like one (has '.' or ':', is "localhost", or has uppercase letters).
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    if remainder.to_lowercase() != remainder {
        return Err(ReferenceError::NameNotCanonical(remainder));
    }
    if !is_domain(&domain) || !remainder.split('/').all(is_path_component) {
        return Err(format_err());
    }
    if domain.len() + 1 + remainder.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong(s.to_string()));
    }
    let tag = match (tag, &digest) {
        (Some(t), _) => Some(t.to_string()),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_TAG.to_string()),
    };
    Ok(Reference {
        domain,
        path: remainder,
        tag,
        digest,
    })
}

/// `[\w][\w.-]{0,127}`
fn is_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or any number of "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]`, host being dot-separated labels of letters, digits and
/// inner hyphens, or a bracketed IPv6 address.
fn is_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => (None, None),
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return false,
            },
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(d), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    match host {
        None => true,
        Some(h) => {
            !h.is_empty()
                && h.split('.').all(|label| {
                    let b = label.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    /// Cases from distribution/reference's normalize_test.go
    /// (TestValidateReferenceName), valid side.
    #[test]
    fn docker_valid_names() {
        for name in [
            "docker/docker",
            "library/debian",
            "debian",
            "localhost/library/debian",
            "localhost/debian",
            "LOCALDOMAIN/library/debian",
            "LOCALDOMAIN/debian",
            "docker.io/docker/docker",
            "docker.io/library/debian",
            "docker.io/debian",
            "index.docker.io/docker/docker",
            "index.docker.io/library/debian",
            "index.docker.io/debian",
            "127.0.0.1:5000/docker/docker",
            "127.0.0.1:5000/library/debian",
            "127.0.0.1:5000/debian",
            "192.168.0.1",
            "192.168.0.1:80",
            "192.168.0.1:8/debian",
            "192.168.0.2:25000/debian",
            "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
            "[fc00::1]:5000/docker",
            "[fc00::1]:5000/docker/docker",
            "[fc00:1:2:3:4:5:6:7]:5000/debian",
            "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            "a.b-c/d__e",
            "foo-bar.com:8080/a---b",
        ] {
            Reference::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// normalize_test.go (TestValidateReferenceName), invalid side.
    #[test]
    fn docker_invalid_names() {
        for name in [
            "https://github.com/docker/docker",
            "docker/Docker",
            "-docker",
            "-docker/docker",
            "-docker.io/docker/docker",
            "docker///docker",
            "docker.io/docker/Docker",
            "docker.io/docker///docker",
            "[fc00::1]",
            "[fc00::1]:5000",
            "fc00::1:5000/debian",
            "[fe80::1%eth0]:5000/debian",
            "[2001:db8:3:4::192.0.2.33]:5000/debian",
            "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            "",
            ":",
            "test image:1",
            "private.registry:port/namespace/test:1",
            "private.registry:5000/namespace/test:image:1",
            "private@registry:5000/test",
            "Test",
            "private.registry:5000/Test",
            "foo:bar:baz",
            "a/b:-tag",
            "a@sha256:abc",
            "a@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            "a@md5:ffffffffffffffffffffffffffffffff",
        ] {
            assert!(
                Reference::parse(name).is_err(),
                "{name:?} should be refused"
            );
        }
    }

    /// normalize_test.go TestParseRepositoryInfo / TestParseNormalizedNamed.
    #[test]
    fn normalisation_table() {
        let cases: &[(&str, &str, &str)] = &[
            // input, canonical, familiar
            ("fooo/bar", "docker.io/fooo/bar:latest", "fooo/bar:latest"),
            (
                "library/ubuntu",
                "docker.io/library/ubuntu:latest",
                "ubuntu:latest",
            ),
            (
                "nonlibrary/ubuntu",
                "docker.io/nonlibrary/ubuntu:latest",
                "nonlibrary/ubuntu:latest",
            ),
            ("ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"),
            (
                "other/library",
                "docker.io/other/library:latest",
                "other/library:latest",
            ),
            (
                "127.0.0.1:8000/private/moonbase",
                "127.0.0.1:8000/private/moonbase:latest",
                "127.0.0.1:8000/private/moonbase:latest",
            ),
            (
                "127.0.0.1:8000/privatebase",
                "127.0.0.1:8000/privatebase:latest",
                "127.0.0.1:8000/privatebase:latest",
            ),
            (
                "example.com/private/moonbase",
                "example.com/private/moonbase:latest",
                "example.com/private/moonbase:latest",
            ),
            (
                "docker.io/fooo/bar",
                "docker.io/fooo/bar:latest",
                "fooo/bar:latest",
            ),
            (
                "docker.io/library/ubuntu",
                "docker.io/library/ubuntu:latest",
                "ubuntu:latest",
            ),
            (
                "index.docker.io/library/ubuntu",
                "docker.io/library/ubuntu:latest",
                "ubuntu:latest",
            ),
            (
                "index.docker.io/fooo/bar",
                "docker.io/fooo/bar:latest",
                "fooo/bar:latest",
            ),
            (
                "localhost:8000/private/moonbase",
                "localhost:8000/private/moonbase:latest",
                "localhost:8000/private/moonbase:latest",
            ),
            (
                "localhost/foo",
                "localhost/foo:latest",
                "localhost/foo:latest",
            ),
            (
                "localhost:5000",
                "docker.io/library/localhost:5000",
                "localhost:5000",
            ),
            ("mysql:5.7", "docker.io/library/mysql:5.7", "mysql:5.7"),
            (
                "nicolaka/netshoot",
                "docker.io/nicolaka/netshoot:latest",
                "nicolaka/netshoot:latest",
            ),
            (
                "ubuntu/library/foo",
                "docker.io/ubuntu/library/foo:latest",
                "ubuntu/library/foo:latest",
            ),
        ];
        for (input, canonical, familiar) in cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), *canonical, "{input}");
            assert_eq!(r.familiar(), *familiar, "{input}");
            // Round trip.
            assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
        }
    }

    #[test]
    fn tags_and_digests() {
        let r = Reference::parse(&format!("registry.example.com:5000/team/app@{D}")).unwrap();
        assert_eq!(r.domain(), "registry.example.com:5000");
        assert_eq!(r.path(), "team/app");
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().to_string(), D);
        assert_eq!(r.manifest_selector(), D);

        let r = Reference::parse(&format!("busybox:1.36@{D}")).unwrap();
        assert_eq!(r.tag(), Some("1.36"));
        assert_eq!(r.digest().unwrap().to_string(), D);
        assert_eq!(r.to_string(), format!("docker.io/library/busybox:1.36@{D}"));

        let r = Reference::parse("[fc00::1]:5000/docker:v1").unwrap();
        assert_eq!(r.domain(), "[fc00::1]:5000");
        assert_eq!(r.tag(), Some("v1"));

        let long_tag = "a".repeat(128);
        assert!(Reference::parse(&format!("foo:{long_tag}")).is_ok());
        assert!(Reference::parse(&format!("foo:{long_tag}a")).is_err());
        let long_name = format!("example.com/{}", "a".repeat(250));
        assert!(matches!(
            Reference::parse(&long_name),
            Err(ReferenceError::NameTooLong(_))
        ));
    }

    #[test]
    fn clear_errors() {
        let e = Reference::parse("docker/Docker").unwrap_err().to_string();
        assert!(e.contains("must be lowercase"), "{e}");
        let e =
            Reference::parse("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a")
                .unwrap_err()
                .to_string();
        assert!(e.contains("64-byte hexadecimal"), "{e}");
        let e = Reference::parse("a@sha256:abc").unwrap_err().to_string();
        assert!(e.contains("length"), "{e}");
        let e = Reference::parse("a@md5:ffffffffffffffffffffffffffffffff")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported"), "{e}");
    }

    #[test]
    fn digest_serde() {
        let d: Digest = serde_json::from_str(&format!("\"{D}\"")).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{D}\""));
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
        assert_eq!(
            Digest::sha256_of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
