//! The query parameters of the endpoints rrun serves, one struct each, with
//! Docker's names. The CLI serializes them ([`to_query`]); a server reads
//! them with serde_urlencoded (axum's `Query`), booleans through [`flag`]
//! so `1`, `true` and `True` all count, as dockerd takes them.

use serde::{Deserialize, Deserializer, Serialize};

use super::Filters;

/// `?a=1&b=x` for a query struct (empty when every field is skipped).
pub fn to_query<Q: Serialize>(q: &Q) -> anyhow::Result<String> {
    let s = serde_urlencoded::to_string(q)?;
    Ok(if s.is_empty() { s } else { format!("?{s}") })
}

/// A boolean parameter as dockerd reads one: `1`, `true`, `True`, `TRUE`
/// are true, anything else false.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let s = String::deserialize(d)?;
    Ok(matches!(s.as_str(), "1" | "true" | "True" | "TRUE"))
}

/// `filters` as the JSON text Docker puts in the query.
mod filters_text {
    use super::Filters;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &Filters, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&f.to_json())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Filters, D::Error> {
        let s = String::deserialize(d)?;
        Filters::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `POST /containers/create`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `--platform os/arch[/variant]`: the image must be of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListQuery {
    #[serde(default, deserialize_with = "flag")]
    pub all: bool,
    #[serde(default, with = "filters_text")]
    pub filters: Filters,
}

/// `filters` alone: the list and prune endpoints of images, networks,
/// volumes and containers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FiltersQuery {
    #[serde(default, with = "filters_text")]
    pub filters: Filters,
}

/// `POST /containers/{id}/stop` and `/restart`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StopQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<i64>,
}

/// `POST /containers/{id}/kill`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KillQuery {
    #[serde(default)]
    pub signal: String,
}

/// `DELETE /containers/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoveQuery {
    #[serde(default, deserialize_with = "flag")]
    pub force: bool,
    /// Remove the container's anonymous volumes too.
    #[serde(default, deserialize_with = "flag")]
    pub v: bool,
    /// The name is a link (`parent/alias`) to remove, not a container.
    #[serde(
        default,
        deserialize_with = "flag",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub link: bool,
}

/// `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaitQuery {
    /// `not-running` (the default), `next-exit` or `removed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// `GET /containers/{id}/logs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogsQuery {
    #[serde(default, deserialize_with = "flag")]
    pub stdout: bool,
    #[serde(default, deserialize_with = "flag")]
    pub stderr: bool,
    #[serde(default, deserialize_with = "flag")]
    pub follow: bool,
    #[serde(default, deserialize_with = "flag")]
    pub timestamps: bool,
    /// A number of lines, or `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<String>,
    /// Unix time (`1700000000.5`) or RFC 3339: the window of lines sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// `POST /containers/{id}/attach`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttachQuery {
    #[serde(default, deserialize_with = "flag")]
    pub stream: bool,
    #[serde(default, deserialize_with = "flag")]
    pub stdin: bool,
    #[serde(default, deserialize_with = "flag")]
    pub stdout: bool,
    #[serde(default, deserialize_with = "flag")]
    pub stderr: bool,
    /// `ctrl-p,ctrl-q` form; empty: the default keys.
    #[serde(
        rename = "detachKeys",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub detach_keys: String,
}

/// `POST /containers/{id}/resize` and `/exec/{id}/resize`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResizeQuery {
    pub h: u16,
    pub w: u16,
}

/// `POST /containers/{id}/rename`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RenameQuery {
    pub name: String,
}

/// `GET /containers/{id}/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsQuery {
    #[serde(default, deserialize_with = "flag")]
    pub stream: bool,
}

/// `GET /events`: times as Unix seconds or RFC 3339.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventsQuery {
    #[serde(default, with = "filters_text")]
    pub filters: Filters,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// `POST /images/create`: a pull (`fromImage`) or an import (`fromSrc=-`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageCreateQuery {
    #[serde(rename = "fromImage", default, skip_serializing_if = "Option::is_none")]
    pub from_image: Option<String>,
    #[serde(rename = "fromSrc", default, skip_serializing_if = "Option::is_none")]
    pub from_src: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Dockerfile instructions, one a line (`import --change`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `pull --platform`: the image of that platform from a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// `POST /images/{name}/tag`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TagQuery {
    pub repo: String,
    pub tag: String,
}

/// `DELETE /images/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageDeleteQuery {
    #[serde(default, deserialize_with = "flag")]
    pub force: bool,
    #[serde(default, deserialize_with = "flag")]
    pub noprune: bool,
}

/// `POST /images/load`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadQuery {
    #[serde(default, deserialize_with = "flag")]
    pub quiet: bool,
}

/// `DELETE /volumes/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeRemoveQuery {
    #[serde(default, deserialize_with = "flag")]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_round_trip_with_dockers_names() {
        let q = LogsQuery {
            stdout: true,
            stderr: true,
            follow: false,
            timestamps: false,
            tail: Some("all".into()),
            ..Default::default()
        };
        let text = to_query(&q).unwrap();
        assert_eq!(
            text,
            "?stdout=true&stderr=true&follow=false&timestamps=false&tail=all"
        );
        assert_eq!(
            serde_urlencoded::from_str::<LogsQuery>(&text[1..]).unwrap(),
            q
        );
        let docker: AttachQuery =
            serde_urlencoded::from_str("stream=1&stdin=0&stdout=True").unwrap();
        assert!(docker.stream && !docker.stdin && docker.stdout && !docker.stderr);
        let pull = ImageCreateQuery {
            from_image: Some("localhost:5000/a b".into()),
            tag: Some("1".into()),
            ..Default::default()
        };
        assert_eq!(
            to_query(&pull).unwrap(),
            "?fromImage=localhost%3A5000%2Fa+b&tag=1"
        );
        assert_eq!(to_query(&CreateQuery::default()).unwrap(), "");
    }

    #[test]
    fn filters_travel_as_json_text() {
        let q = ListQuery {
            all: true,
            filters: Filters::from_flags(&["name=web".into()]).unwrap(),
        };
        let text = to_query(&q).unwrap();
        assert_eq!(text, "?all=true&filters=%7B%22name%22%3A%5B%22web%22%5D%7D");
        assert_eq!(
            serde_urlencoded::from_str::<ListQuery>(&text[1..]).unwrap(),
            q
        );
        let none: ListQuery = serde_urlencoded::from_str("").unwrap();
        assert_eq!(none, ListQuery::default());
    }
}
