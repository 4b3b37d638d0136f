//! Docker's `filters` query parameter, parsed once for every list.

use crate::daemon::{ApiError, ApiResult};

/// Docker's `filters` query parameter: key → accepted values.
pub type Filters = std::collections::BTreeMap<String, Vec<String>>;

/// Parses `filters` in either of Docker's forms (`{"k":["v"]}` or the old
/// `{"k":{"v":true}}`).
pub fn parse_filters(json: &str) -> ApiResult<Filters> {
    if json.trim().is_empty() {
        return Ok(Filters::new());
    }
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| ApiError::bad(format!("invalid filter: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad("invalid filter: not an object"))?;
    let mut out = Filters::new();
    for (k, vals) in obj {
        let list: Vec<String> = match vals {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            _ => return Err(ApiError::bad(format!("invalid filter '{k}'"))),
        };
        match k.as_str() {
            "id" | "name" | "status" | "label" | "ancestor" => {}
            _ => return Err(ApiError::bad(format!("invalid filter '{k}'"))),
        }
        out.insert(k.clone(), list);
    }
    Ok(out)
}
