//! Live progress of an apply: one line per node with its current step and
//! elapsed time (indicatif spinners on a terminal, plain lines otherwise,
//! JSON Lines events under `--output json`: see state/events.schema.json).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Progress {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    /// Print nothing.
    silent: bool,
    /// JSON Lines events instead of text.
    json: bool,
    multi: Option<MultiProgress>,
    bars: BTreeMap<String, (ProgressBar, Instant)>,
    started: BTreeMap<String, Instant>,
}

impl Progress {
    /// Spinners when `terminal`, plain lines otherwise.
    pub fn new(terminal: bool) -> Progress {
        let multi = terminal.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Progress {
            inner: Arc::new(Mutex::new(Inner {
                silent: false,
                json: false,
                multi,
                bars: BTreeMap::new(),
                started: BTreeMap::new(),
            })),
        }
    }

    /// Progress that prints nothing (e.g. under `--output json`).
    pub fn silent() -> Progress {
        let p = Progress::new(false);
        p.inner.lock().expect("progress lock").silent = true;
        p
    }

    /// JSON Lines events (`start`, `phase`, `finish`, `note`) on stdout.
    pub fn json() -> Progress {
        let p = Progress::new(false);
        p.inner.lock().expect("progress lock").json = true;
        p
    }

    fn event(value: serde_json::Value) {
        println!("{value}");
    }

    fn elapsed_ms(start: Option<&Instant>) -> u128 {
        start.map_or(0, |s| s.elapsed().as_millis())
    }

    fn elapsed(start: Instant) -> String {
        format!("{:.1}s", start.elapsed().as_secs_f64())
    }

    pub fn start(&self, address: &str, step: &str) {
        let mut g = self.inner.lock().expect("progress lock");
        if g.silent {
            return;
        }
        let now = Instant::now();
        g.started.insert(address.into(), now);
        if g.json {
            Self::event(serde_json::json!({"event": "start", "node": address, "phase": step}));
            return;
        }
        if let Some(m) = &g.multi {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} [{elapsed}]")
                    .expect("template"),
            );
            bar.set_prefix(address.to_string());
            bar.set_message(step.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            g.bars.insert(address.into(), (bar, now));
        } else {
            println!("{address}: {step}");
        }
    }

    pub fn step(&self, address: &str, step: &str) {
        let g = self.inner.lock().expect("progress lock");
        if g.silent {
            return;
        }
        if g.json {
            let elapsed = Self::elapsed_ms(g.started.get(address));
            Self::event(
                serde_json::json!({"event": "phase", "node": address, "phase": step, "elapsedMs": elapsed}),
            );
        } else if let Some((bar, _)) = g.bars.get(address) {
            bar.set_message(step.to_string());
        } else if g.multi.is_none() {
            let t = g
                .started
                .get(address)
                .map(|s| Self::elapsed(*s))
                .unwrap_or_default();
            println!("{address}: {step} ({t})");
        }
    }

    pub fn finish(&self, address: &str, ok: bool, text: &str) {
        let mut g = self.inner.lock().expect("progress lock");
        if g.silent {
            return;
        }
        if g.json {
            let elapsed = Self::elapsed_ms(g.started.get(address));
            Self::event(
                serde_json::json!({"event": "finish", "node": address, "ok": ok, "outcome": text, "elapsedMs": elapsed}),
            );
            return;
        }
        let t = g
            .started
            .get(address)
            .map(|s| Self::elapsed(*s))
            .unwrap_or_default();
        let mark = if ok { "✓" } else { "✗" };
        if let Some((bar, _)) = g.bars.remove(address) {
            bar.finish_with_message(format!("{mark} {text} in {t}"));
        } else {
            println!("{address}: {mark} {text} in {t}");
        }
    }

    /// A line outside any node.
    pub fn note(&self, text: &str) {
        let g = self.inner.lock().expect("progress lock");
        if g.silent {
            return;
        }
        if g.json {
            Self::event(serde_json::json!({"event": "note", "message": text}));
            return;
        }
        match &g.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => println!("{text}"),
        }
    }
}
