//! Containers with a terminal (`Config.Tty`): the spec's `process.terminal`
//! and initial size, and `POST /containers/{id}/resize`, which the shim
//! applies to the pty master it holds (through `<dir>/ctl.sock`).

use oci_spec::runtime::{BoxBuilder, Spec};

use super::{ContainerError, Daemon};
use crate::shim;

/// Sets `process.terminal` (and `consoleSize` when known) in a built spec.
pub fn apply_terminal(spec: &mut Spec, tty: bool, size: Option<[u16; 2]>) {
    let Some(p) = spec.process_mut() else {
        return;
    };
    p.set_terminal(Some(tty));
    if let Some([h, w]) = size.filter(|[h, w]| tty && *h > 0 && *w > 0) {
        let size = BoxBuilder::default().height(h).width(w).build();
        p.set_console_size(size.ok());
    }
}

impl Daemon {
    /// `POST /containers/{id}/resize?h=&w=`.
    pub async fn resize(&self, name: &str, h: u16, w: u16) -> Result<(), ContainerError> {
        let c = self.container(name)?;
        if !c.state.running {
            return Err(ContainerError::NotRunning(c.id));
        }
        if !c.config.tty {
            return Ok(());
        }
        let sock = self.dir(&c.id).join(shim::CTL_SOCKET);
        let (_dir, path) = shim::short_path(&sock).map_err(ContainerError::internal)?;
        let mut s = tokio::net::UnixStream::connect(&path)
            .await
            .map_err(|e| ContainerError::Internal(format!("resize {}: {e}", c.id)))?;
        use tokio::io::AsyncWriteExt;
        s.write_all(format!("{h} {w}\n").as_bytes())
            .await
            .map_err(ContainerError::internal)?;
        let _ = s.shutdown().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_and_size_go_into_the_process() {
        let spec = || {
            let mut s = Spec::default();
            s.set_process(Some(Default::default()));
            s
        };
        let process = |s: &Spec| s.process().clone().unwrap();
        let mut s = spec();
        apply_terminal(&mut s, true, Some([24, 80]));
        assert_eq!(process(&s).terminal(), Some(true));
        let size = process(&s).console_size().unwrap();
        assert_eq!((size.height(), size.width()), (24, 80));
        let mut s = spec();
        apply_terminal(&mut s, false, Some([24, 80]));
        assert_eq!(process(&s).terminal(), Some(false));
        assert!(process(&s).console_size().is_none());
        let mut s = spec();
        apply_terminal(&mut s, true, Some([0, 0]));
        assert!(process(&s).console_size().is_none());
        let mut s = Spec::default();
        s.set_process(None);
        apply_terminal(&mut s, true, None);
        assert!(s.process().is_none());
    }
}
