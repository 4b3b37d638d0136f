//! Pure: Docker's volume list and prune filters.
//!
//! List accepts `name` (an unanchored regular expression, as Docker's
//! `filters.Args.Match`: `todo` matches `my-todo-data`, `^todo$` only `todo`), `driver`, `label` (`key` or
//! `key=value`) and `dangling` (`true`/`false`/`1`/`0`). Prune accepts
//! `label`, `label!` and, as API 1.42, `all`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter '{0}'")]
    UnknownKey(String),
    #[error("invalid filter '{key}={value}'")]
    InvalidValue { key: String, value: String },
    #[error("invalid filter 'name={value}': {reason}")]
    BadPattern { value: String, reason: String },
}

/// What a filter looks at in a volume.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub driver: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub in_use: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LabelMatch {
    key: String,
    value: Option<String>,
}

impl LabelMatch {
    fn parse(s: &str) -> LabelMatch {
        match s.split_once('=') {
            Some((k, v)) => LabelMatch {
                key: k.to_string(),
                value: Some(v.to_string()),
            },
            None => LabelMatch {
                key: s.to_string(),
                value: None,
            },
        }
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match (labels.get(&self.key), &self.value) {
            (Some(_), None) => true,
            (Some(v), Some(want)) => v == want,
            (None, _) => false,
        }
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool, FilterError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(FilterError::InvalidValue {
            key: key.to_string(),
            value: v.to_string(),
        }),
    }
}

/// Filters of `GET /volumes` and `rrun volume ls --filter`.
#[derive(Debug, Clone, Default)]
pub struct ListFilters {
    names: Vec<regex::Regex>,
    drivers: Vec<String>,
    labels: Vec<LabelMatch>,
    dangling: Option<bool>,
}

impl ListFilters {
    pub fn parse(filters: &BTreeMap<String, Vec<String>>) -> Result<ListFilters, FilterError> {
        let mut out = ListFilters::default();
        for (key, values) in filters {
            match key.as_str() {
                "name" => {
                    for v in values {
                        let re = regex::Regex::new(v).map_err(|e| FilterError::BadPattern {
                            value: v.clone(),
                            reason: e.to_string(),
                        })?;
                        out.names.push(re);
                    }
                }
                "driver" => out.drivers.extend(values.iter().cloned()),
                "label" => out
                    .labels
                    .extend(values.iter().map(|v| LabelMatch::parse(v))),
                "dangling" => {
                    for v in values {
                        out.dangling = Some(parse_bool(key, v)?);
                    }
                }
                other => return Err(FilterError::UnknownKey(other.to_string())),
            }
        }
        Ok(out)
    }

    /// Values of one key are alternatives except labels, which must all
    /// match; different keys must all match (Docker's semantics).
    pub fn matches(&self, c: &Candidate<'_>) -> bool {
        (self.names.is_empty() || self.names.iter().any(|n| n.is_match(c.name)))
            && (self.drivers.is_empty() || self.drivers.iter().any(|d| d == c.driver))
            && self.labels.iter().all(|l| l.matches(c.labels))
            && self.dangling.is_none_or(|d| d != c.in_use)
    }
}

/// Filters of `POST /volumes/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneFilters {
    /// Prune named volumes too, not only anonymous ones (API ≥ 1.42).
    pub all: bool,
    labels: Vec<LabelMatch>,
    not_labels: Vec<LabelMatch>,
}

impl PruneFilters {
    pub fn parse(filters: &BTreeMap<String, Vec<String>>) -> Result<PruneFilters, FilterError> {
        let mut out = PruneFilters::default();
        for (key, values) in filters {
            match key.as_str() {
                "label" => out
                    .labels
                    .extend(values.iter().map(|v| LabelMatch::parse(v))),
                "label!" => out
                    .not_labels
                    .extend(values.iter().map(|v| LabelMatch::parse(v))),
                "all" => {
                    for v in values {
                        out.all = parse_bool(key, v)?;
                    }
                }
                other => return Err(FilterError::UnknownKey(other.to_string())),
            }
        }
        Ok(out)
    }

    /// Whether an unused volume should be pruned.
    pub fn matches(&self, labels: &BTreeMap<String, String>, anonymous: bool) -> bool {
        (self.all || anonymous)
            && self.labels.iter().all(|l| l.matches(labels))
            && !self.not_labels.iter().any(|l| l.matches(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn list_filters() {
        let l = labels(&[("env", "prod"), ("team", "db")]);
        let c = Candidate {
            name: "todo-mysql-data",
            driver: "local",
            labels: &l,
            in_use: false,
        };
        let ok = |pairs: &[(&str, &[&str])]| ListFilters::parse(&map(pairs)).unwrap().matches(&c);
        assert!(ok(&[]));
        assert!(ok(&[("name", &["mysql"])]));
        assert!(ok(&[("name", &["nope", "todo"])]));
        assert!(!ok(&[("name", &["redis"])]));
        assert!(ok(&[("name", &["^todo-.*-data$"])]));
        assert!(!ok(&[("name", &["^mysql"])]));
        assert!(ok(&[("label", &["env"])]));
        assert!(ok(&[("label", &["env=prod", "team=db"])]));
        assert!(!ok(&[("label", &["env=prod", "team=web"])]));
        assert!(!ok(&[("label", &["missing"])]));
        assert!(ok(&[("dangling", &["true"])]));
        assert!(ok(&[("dangling", &["1"])]));
        assert!(!ok(&[("dangling", &["false"])]));
        assert!(ok(&[("driver", &["local"])]));
        assert!(!ok(&[("driver", &["nfs"])]));
        assert!(!ok(&[("name", &["mysql"]), ("dangling", &["0"])]));
        let used = Candidate {
            in_use: true,
            ..c.clone()
        };
        let f = ListFilters::parse(&map(&[("dangling", &["false"])])).unwrap();
        assert!(f.matches(&used));
    }

    #[test]
    fn list_filter_errors() {
        let e = ListFilters::parse(&map(&[("colour", &["red"])])).unwrap_err();
        assert_eq!(e.to_string(), "invalid filter 'colour'");
        let e = ListFilters::parse(&map(&[("name", &["(unclosed"])])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid filter 'name=(unclosed': "),
            "{e}"
        );
        let e = ListFilters::parse(&map(&[("dangling", &["maybe"])])).unwrap_err();
        assert_eq!(e.to_string(), "invalid filter 'dangling=maybe'");
    }

    #[test]
    fn prune_filters() {
        let l = labels(&[("keep", "yes")]);
        let none = BTreeMap::new();
        let default = PruneFilters::parse(&BTreeMap::new()).unwrap();
        assert!(default.matches(&none, true));
        assert!(
            !default.matches(&none, false),
            "named volumes survive a default prune"
        );
        let all = PruneFilters::parse(&map(&[("all", &["true"])])).unwrap();
        assert!(all.matches(&none, false));
        let not_keep =
            PruneFilters::parse(&map(&[("all", &["1"]), ("label!", &["keep"])])).unwrap();
        assert!(!not_keep.matches(&l, false));
        assert!(not_keep.matches(&none, false));
        let only_keep = PruneFilters::parse(&map(&[("label", &["keep=yes"])])).unwrap();
        assert!(only_keep.matches(&l, true));
        assert!(!only_keep.matches(&none, true));
        assert_eq!(
            PruneFilters::parse(&map(&[("dangling", &["true"])]))
                .unwrap_err()
                .to_string(),
            "invalid filter 'dangling'"
        );
    }
}
