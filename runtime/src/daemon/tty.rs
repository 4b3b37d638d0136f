//! Containers with a terminal (`Config.Tty`): the spec's `process.terminal`
//! and initial size, and `POST /containers/{id}/resize`, which the shim
//! applies to the pty master it holds (through `<dir>/ctl.sock`).

use serde_json::{json, Value};

use super::{ApiError, ApiResult, Daemon};
use crate::shim;

/// Sets `process.terminal` (and `consoleSize` when known) in a built spec.
pub fn apply_terminal(spec: &mut Value, tty: bool, size: Option<[u16; 2]>) {
    let Some(p) = spec.get_mut("process").filter(|p| p.is_object()) else {
        return;
    };
    p["terminal"] = json!(tty);
    if let Some([h, w]) = size.filter(|[h, w]| tty && *h > 0 && *w > 0) {
        p["consoleSize"] = json!({"height": h, "width": w});
    }
}

impl Daemon {
    /// `POST /containers/{id}/resize?h=&w=`.
    pub async fn resize(&self, name: &str, h: u16, w: u16) -> ApiResult<()> {
        let c = self.get(name)?;
        if !c.state.running {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if !c.config.tty {
            return Ok(());
        }
        let sock = self.dir(&c.id).join(shim::CTL_SOCKET);
        let (_dir, path) = shim::short_path(&sock).map_err(ApiError::internal)?;
        let mut s = tokio::net::UnixStream::connect(&path)
            .await
            .map_err(|e| ApiError::internal(format!("resize {}: {e}", c.id)))?;
        use tokio::io::AsyncWriteExt;
        s.write_all(format!("{h} {w}\n").as_bytes())
            .await
            .map_err(ApiError::internal)?;
        let _ = s.shutdown().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_and_size_go_into_the_process() {
        let mut s = json!({"process": {"args": ["sh"]}});
        apply_terminal(&mut s, true, Some([24, 80]));
        assert_eq!(s["process"]["terminal"], true);
        assert_eq!(
            s["process"]["consoleSize"],
            json!({"height": 24, "width": 80})
        );
        let mut s = json!({"process": {"args": ["sh"]}});
        apply_terminal(&mut s, false, Some([24, 80]));
        assert_eq!(s["process"]["terminal"], false);
        assert!(s["process"].get("consoleSize").is_none());
        let mut s = json!({"process": {}});
        apply_terminal(&mut s, true, Some([0, 0]));
        assert!(s["process"].get("consoleSize").is_none());
    }
}
