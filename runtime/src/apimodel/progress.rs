//! The JSON progress lines of pull, push, load, import and build (Go's
//! `jsonmessage.JSONMessage`, which bollard-stubs splits into
//! `CreateImageInfo`, `PushImageInfo` and `BuildInfo`): one type for all,
//! every field `omitempty` as in dockerd, except that a layer's line sends
//! `progressDetail` as `{}` when there is no count yet (dockerd's non-nil
//! empty `JSONProgress`, which the docker CLI's progress bars expect).

use serde::{Deserialize, Serialize};

/// One line of a progress stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<ProgressAux>,
}

/// `progressDetail`: `{}`, or the bytes done so far and in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    pub message: String,
}

/// `aux`: a build's image (`{"ID": …}`) or a push's manifest
/// (`{"Tag": …, "Digest": …, "Size": …}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressAux {
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "Tag", skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(rename = "Digest", skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(rename = "Size", skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl ProgressMessage {
    /// `{"status": …}`.
    pub fn status(s: impl Into<String>) -> Self {
        ProgressMessage {
            status: Some(s.into()),
            ..Default::default()
        }
    }

    /// `{"status": …, "progressDetail": {}, "id": …}`: a layer's step.
    pub fn layer(status: impl Into<String>, id: impl Into<String>) -> Self {
        ProgressMessage {
            status: Some(status.into()),
            progress_detail: Some(ProgressDetail::default()),
            id: Some(id.into()),
            ..Default::default()
        }
    }

    /// `{"stream": …}`: build output, load's lines.
    pub fn stream(s: impl Into<String>) -> Self {
        ProgressMessage {
            stream: Some(s.into()),
            ..Default::default()
        }
    }

    /// `{"errorDetail": {"message": …}, "error": …}`: a failure, the last
    /// line of a stream whose answer was already a 200.
    pub fn error(e: impl Into<String>) -> Self {
        let e = e.into();
        ProgressMessage {
            error_detail: Some(ErrorDetail {
                code: None,
                message: e.clone(),
            }),
            error: Some(e),
            ..Default::default()
        }
    }

    /// `{"aux": {"ID": …}}`: the image a build made.
    pub fn image_id(id: impl Into<String>) -> Self {
        ProgressMessage {
            aux: Some(ProgressAux {
                id: Some(id.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The message as one line of the stream, ended by `end` (`"\r\n"`
    /// for pull, push and build as dockerd; `"\n"` for load).
    pub fn line(&self, end: &str) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push_str(end);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(m: &ProgressMessage) -> serde_json::Value {
        serde_json::to_value(m).unwrap()
    }

    #[test]
    fn lines_have_dockerds_shapes() {
        assert_eq!(
            v(&ProgressMessage::layer("Pull complete", "abc")),
            json!({"status": "Pull complete", "progressDetail": {}, "id": "abc"})
        );
        assert_eq!(
            v(&ProgressMessage::status("Digest: sha256:1")),
            json!({"status": "Digest: sha256:1"})
        );
        assert_eq!(
            v(&ProgressMessage::error("boom")),
            json!({"errorDetail": {"message": "boom"}, "error": "boom"})
        );
        assert_eq!(
            v(&ProgressMessage::stream("Step 1/2\n")),
            json!({"stream": "Step 1/2\n"})
        );
        assert_eq!(
            v(&ProgressMessage::image_id("sha256:2")),
            json!({"aux": {"ID": "sha256:2"}})
        );
        let mut m = ProgressMessage::layer("Downloading", "abc");
        m.progress_detail = Some(ProgressDetail {
            current: Some(5),
            total: Some(10),
        });
        assert_eq!(v(&m)["progressDetail"], json!({"current": 5, "total": 10}));
        assert_eq!(
            ProgressMessage::status("x").line("\r\n"),
            "{\"status\":\"x\"}\r\n"
        );
    }

    #[test]
    fn a_push_line_round_trips_and_bollard_reads_them() {
        let push =
            json!({"progressDetail": {}, "aux": {"Tag": "1", "Digest": "sha256:3", "Size": 527}});
        let m: ProgressMessage = serde_json::from_value(push.clone()).unwrap();
        assert_eq!(v(&m), push);
        let b: crate::apimodel::models::BuildInfo =
            serde_json::from_value(v(&ProgressMessage::error("bad"))).unwrap();
        assert_eq!(b.error_detail.unwrap().message.as_deref(), Some("bad"));
        let c: crate::apimodel::models::CreateImageInfo =
            serde_json::from_value(v(&ProgressMessage::layer("Pulling fs layer", "d"))).unwrap();
        assert_eq!(c.id.as_deref(), Some("d"));
    }
}
