//! Pull progress on a terminal: one bar per layer (indicatif), fed by the
//! daemon's JSON progress messages (`status`, `id`, `progressDetail`).

use std::collections::HashMap;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

pub struct Bars {
    multi: MultiProgress,
    layers: HashMap<String, ProgressBar>,
    style: ProgressStyle,
}

impl Bars {
    pub fn new(to_stderr: bool) -> Bars {
        let target = if to_stderr {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::stdout()
        };
        let style =
            ProgressStyle::with_template("{prefix}: {msg:<16} {wide_bar} {bytes}/{total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        Bars {
            multi: MultiProgress::with_draw_target(target),
            layers: HashMap::new(),
            style,
        }
    }

    /// One progress message.
    pub fn update(&mut self, v: &Value) {
        let status = v["status"].as_str().unwrap_or("");
        const LAYER: [&str; 8] = [
            "Pulling fs layer",
            "Waiting",
            "Downloading",
            "Verifying Checksum",
            "Download complete",
            "Extracting",
            "Pull complete",
            "Already exists",
        ];
        let id = match v["id"].as_str() {
            // A layer's state: its bar.
            Some(id) if LAYER.contains(&status) || self.layers.contains_key(id) => id,
            // `5.7: Pulling from library/mysql`, `Digest: …`: a line.
            Some(id) => {
                let _ = self.multi.println(format!("{id}: {status}"));
                return;
            }
            None => {
                let _ = self.multi.println(status);
                return;
            }
        };
        let bar = self.layers.entry(id.to_string()).or_insert_with(|| {
            let b = self.multi.add(ProgressBar::new(0));
            b.set_style(self.style.clone());
            b.set_prefix(id.to_string());
            b
        });
        let detail = &v["progressDetail"];
        if let (Some(cur), Some(total)) = (detail["current"].as_u64(), detail["total"].as_u64()) {
            bar.set_length(total);
            bar.set_position(cur);
        }
        match status {
            "Pull complete" | "Already exists" => bar.finish_with_message(status.to_string()),
            s => bar.set_message(s.to_string()),
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        for b in self.layers.values() {
            if !b.is_finished() {
                b.abandon();
            }
        }
    }
}
