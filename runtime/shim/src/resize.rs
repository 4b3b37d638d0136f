//! A container's terminal size, set on request through `ctl.sock`.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::time::Duration;

/// Sets the window size of a pty (rows, columns).
pub fn set_winsize(fd: &impl AsRawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from the pointer we pass.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

/// A resize request on a control socket: one line `<rows> <cols>`.
pub fn parse_resize(line: &str) -> Option<(u16, u16)> {
    let mut it = line.split_whitespace();
    let h = it.next()?.parse().ok()?;
    let w = it.next()?.parse().ok()?;
    it.next().is_none().then_some((h, w))
}

/// Serves one connection of a resize control socket: reads its line
/// (bounded) and applies it to `master`.
pub fn serve_resize(listener: &UnixListener, master: &impl AsRawFd) {
    let Ok((mut c, _)) = listener.accept() else {
        return;
    };
    let _ = c.set_nonblocking(false);
    let _ = c.set_read_timeout(Some(Duration::from_secs(1)));
    let mut line = Vec::new();
    let mut b = [0u8; 64];
    while !line.contains(&b'\n') && line.len() < 64 {
        match c.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => line.extend_from_slice(&b[..n]),
        }
    }
    if let Some((h, w)) = parse_resize(&String::from_utf8_lossy(&line)) {
        set_winsize(master, h, w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_lines_parse() {
        assert_eq!(parse_resize("24 80\n"), Some((24, 80)));
        assert_eq!(parse_resize("24"), None);
        assert_eq!(parse_resize("24 80 1"), None);
        assert_eq!(parse_resize("-1 80"), None);
    }
}
