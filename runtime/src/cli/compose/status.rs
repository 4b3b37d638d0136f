//! What `up`, `down` and the others tell the user they are doing: as
//! Compose v2 shows it, a line per resource with its state, redrawn in
//! place on a terminal (` ✔ Container p-db-1  Started`), plain lines
//! otherwise (` Container p-db-1  Started`), all on stderr.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

pub struct Status {
    multi: Option<MultiProgress>,
    lines: Mutex<HashMap<String, ProgressBar>>,
    silent: bool,
}

impl Status {
    pub fn new() -> Status {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Status {
            multi,
            lines: Mutex::new(HashMap::new()),
            silent: false,
        }
    }

    /// A status that shows nothing (a step inside another's line).
    pub fn silent() -> Status {
        Status {
            multi: None,
            lines: Mutex::new(HashMap::new()),
            silent: true,
        }
    }

    /// `kind` (Container, Network, Volume, Image) `name` is now `state`;
    /// `done`: a final state (Started, Removed...).
    pub fn set(&self, kind: &str, name: &str, state: &str, done: bool) {
        if self.silent {
            return;
        }
        let Some(multi) = &self.multi else {
            eprintln!(" {kind} {name}  {state}");
            return;
        };
        let key = format!("{kind} {name}");
        let Ok(mut lines) = self.lines.lock() else {
            return;
        };
        let bar = lines.entry(key.clone()).or_insert_with(|| {
            let b = multi.add(ProgressBar::new_spinner());
            let style = ProgressStyle::with_template(" {spinner} {prefix}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .tick_strings(&["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "✔"]);
            b.set_style(style);
            b.set_prefix(key);
            b.enable_steady_tick(Duration::from_millis(100));
            b
        });
        bar.set_message(state.to_string());
        if done {
            bar.finish();
        }
    }

    /// A failed resource: its line says so (the error itself is printed
    /// once, by the caller).
    pub fn fail(&self, kind: &str, name: &str) {
        if self.silent {
            return;
        }
        match &self.multi {
            None => eprintln!(" {kind} {name}  Error"),
            Some(_) => {
                if let Ok(lines) = self.lines.lock() {
                    if let Some(b) = lines.get(&format!("{kind} {name}")) {
                        b.abandon_with_message("Error");
                    }
                }
            }
        }
    }

    /// A line of its own (a warning) above the resource lines.
    pub fn note(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => eprintln!("{text}"),
        }
    }
}

impl Default for Status {
    fn default() -> Status {
        Status::new()
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        if let Ok(lines) = self.lines.lock() {
            for b in lines.values().filter(|b| !b.is_finished()) {
                b.abandon();
            }
        }
    }
}
