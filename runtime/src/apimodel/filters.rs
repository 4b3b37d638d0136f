//! Docker's `filters` parameter and its matching rules (moby's
//! `filters.Args`), shared by every list, prune and the event stream.
//!
//! The rules, as dockerd applies them: different keys must all hold;
//! several values of one key are alternatives, except `label`, where every
//! value must hold (`MatchKVList`). `name` is an unanchored regular
//! expression; `id` a prefix.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A bad `filters` parameter: the answer is a 400 with this line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter '{0}'")]
    UnknownKey(String),
    #[error("invalid filter '{key}={value}'")]
    InvalidValue { key: String, value: String },
    #[error("invalid filter '{key}={value}': {reason}")]
    BadPattern {
        key: String,
        value: String,
        reason: String,
    },
    #[error("invalid filter: {0}")]
    Json(String),
    /// A filter names an object that does not exist (`before=nope`).
    #[error("No such {kind}: {name}")]
    NoSuch { kind: &'static str, name: String },
}

/// Docker's `filters` parameter: key → values. Sent as `{"k":["v"]}`; read
/// in that form or the old `{"k":{"v":true}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Filters(pub BTreeMap<String, Vec<String>>);

impl Filters {
    /// From the CLI's `-f key=value` flags.
    pub fn from_flags(flags: &[String]) -> anyhow::Result<Filters> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in flags {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("bad format of filter (expected name=value): {f}")
            })?;
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        Ok(Filters(m))
    }

    /// The JSON text that goes into the query string.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }

    /// Parses the query string's JSON text (empty: no filters).
    pub fn parse(json: &str) -> Result<Filters, FilterError> {
        if json.trim().is_empty() {
            return Ok(Filters::default());
        }
        serde_json::from_str(json).map_err(|e| FilterError::Json(e.to_string()))
    }

    /// Parses and checks every key against those an endpoint knows.
    pub fn parse_for(json: &str, accepted: &[&str]) -> Result<Filters, FilterError> {
        let f = Filters::parse(json)?;
        f.validate(accepted)?;
        Ok(f)
    }

    /// One filter of one key (`label=a=b`), as the prune of a single key is asked.
    pub fn single(key: &str, values: Vec<String>) -> Filters {
        Filters([(key.to_string(), values)].into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_empty())
    }

    /// The values of `key` (none when absent).
    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every key must be one of `accepted`: Docker's `invalid filter 'k'`.
    pub fn validate(&self, accepted: &[&str]) -> Result<(), FilterError> {
        match self.0.keys().find(|k| !accepted.contains(&k.as_str())) {
            Some(k) => Err(FilterError::UnknownKey(k.clone())),
            None => Ok(()),
        }
    }

    /// Every value of `key` must be one of `allowed`.
    pub fn validate_values(&self, key: &str, allowed: &[&str]) -> Result<(), FilterError> {
        match self
            .get(key)
            .iter()
            .find(|v| !allowed.contains(&v.as_str()))
        {
            Some(v) => Err(FilterError::InvalidValue {
                key: key.into(),
                value: v.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Every value of `key` must be a regular expression.
    pub fn validate_patterns(&self, key: &str) -> Result<(), FilterError> {
        for v in self.get(key) {
            regex::Regex::new(v).map_err(|e| FilterError::BadPattern {
                key: key.into(),
                value: v.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// `true`/`1` or `false`/`0` (Docker's `dangling`); None when absent.
    /// Two different answers are an error, as in dockerd.
    pub fn bool_value(&self, key: &str) -> Result<Option<bool>, FilterError> {
        let mut out = None;
        for v in self.get(key) {
            let b = match v.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(FilterError::InvalidValue {
                        key: key.into(),
                        value: v.clone(),
                    })
                }
            };
            if out.is_some_and(|o| o != b) {
                return Err(FilterError::InvalidValue {
                    key: key.into(),
                    value: v.clone(),
                });
            }
            out = Some(b);
        }
        Ok(out)
    }

    /// Every `key` value (`k` or `k=v`) holds in `labels` (moby's
    /// `MatchKVList`); true when the key is absent.
    pub fn match_labels(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        self.get(key).iter().all(|want| label_holds(want, labels))
    }

    /// No `key` value (`k` or `k=v`) holds in `labels` (prune's `label!`).
    pub fn match_no_labels(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        !self.get(key).iter().any(|want| label_holds(want, labels))
    }

    /// Some value of `key` equals `source`, or the key is absent.
    pub fn exact(&self, key: &str, source: &str) -> bool {
        !self.contains(key) || self.get(key).iter().any(|v| v == source)
    }

    /// Some value of `key` is a prefix of `source`, or the key is absent.
    pub fn prefix(&self, key: &str, source: &str) -> bool {
        !self.contains(key) || self.get(key).iter().any(|v| source.starts_with(v.as_str()))
    }

    /// Some value of `key` equals `source` or is an unanchored regular
    /// expression found in it (moby's `Match`), or the key is absent.
    pub fn pattern(&self, key: &str, source: &str) -> bool {
        !self.contains(key)
            || self
                .get(key)
                .iter()
                .any(|v| v == source || regex::Regex::new(v).is_ok_and(|r| r.is_match(source)))
    }
}

fn label_holds(want: &str, labels: &BTreeMap<String, String>) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want),
    }
}

impl<'de> Deserialize<'de> for Filters {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Values {
            List(Vec<String>),
            Set(BTreeMap<String, bool>),
        }
        let m = BTreeMap::<String, Values>::deserialize(d)?;
        Ok(Filters(
            m.into_iter()
                .map(|(k, v)| match v {
                    Values::List(l) => (k, l),
                    Values::Set(s) => (k, s.into_keys().collect()),
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_take_both_forms() {
        let f = Filters::from_flags(&["name=a".into(), "name=b".into(), "label=x=1".into()]);
        let f = f.unwrap();
        assert_eq!(f.to_json(), r#"{"label":["x=1"],"name":["a","b"]}"#);
        assert_eq!(Filters::parse(&f.to_json()).unwrap(), f);
        let old = Filters::parse(r#"{"status":{"running":true}}"#).unwrap();
        assert_eq!(old.0["status"], vec!["running"]);
        assert!(Filters::parse("[1]").is_err());
        assert!(Filters::parse(r#"{"a":[1]}"#).is_err());
        assert!(Filters::from_flags(&["nokey".into()]).is_err());
        assert_eq!(Filters::parse("").unwrap(), Filters::default());
    }

    #[test]
    fn every_label_must_hold() {
        // docker-compose asks for the project and the service at once.
        let f = Filters::parse(
            r#"{"label":["com.docker.compose.project=p","com.docker.compose.service=app"]}"#,
        )
        .unwrap();
        let app = labels(&[
            ("com.docker.compose.project", "p"),
            ("com.docker.compose.service", "app"),
        ]);
        let db = labels(&[
            ("com.docker.compose.project", "p"),
            ("com.docker.compose.service", "db"),
        ]);
        assert!(f.match_labels("label", &app));
        assert!(!f.match_labels("label", &db));
        let key_only = Filters::single("label", vec!["com.docker.compose.project".into()]);
        assert!(key_only.match_labels("label", &db));
        assert!(!key_only.match_labels("label", &BTreeMap::new()));
        assert!(Filters::default().match_labels("label", &BTreeMap::new()));
        let not = Filters::single("label!", vec!["com.docker.compose.service=db".into()]);
        assert!(not.match_no_labels("label!", &app));
        assert!(!not.match_no_labels("label!", &db));
    }

    #[test]
    fn values_of_one_key_are_alternatives() {
        let f = Filters::parse(r#"{"name":["^web$","db"],"id":["abc"]}"#).unwrap();
        assert!(f.pattern("name", "web"));
        assert!(f.pattern("name", "my-db-1"));
        assert!(!f.pattern("name", "webapp"));
        assert!(f.prefix("id", "abcdef"));
        assert!(!f.prefix("id", "xabc"));
        assert!(f.exact("status", "anything"), "an absent key holds");
        assert!(Filters::single("name", vec!["[".into()])
            .validate_patterns("name")
            .is_err());
    }

    #[test]
    fn keys_and_values_are_checked() {
        let f = Filters::parse(r#"{"bogus":["x"]}"#).unwrap();
        assert_eq!(
            f.validate(&["name"]).unwrap_err().to_string(),
            "invalid filter 'bogus'"
        );
        let s = Filters::single("status", vec!["sleeping".into()]);
        assert_eq!(
            s.validate_values("status", &["running"])
                .unwrap_err()
                .to_string(),
            "invalid filter 'status=sleeping'"
        );
        let d = Filters::single("dangling", vec!["1".into()]);
        assert_eq!(d.bool_value("dangling").unwrap(), Some(true));
        let both = Filters::single("dangling", vec!["true".into(), "false".into()]);
        assert!(both.bool_value("dangling").is_err());
        let bad = Filters::single("dangling", vec!["maybe".into()]);
        assert!(bad.bool_value("dangling").is_err());
    }
}
