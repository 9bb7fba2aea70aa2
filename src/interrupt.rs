//! Interrupts as a value. One listener per process turns Ctrl-C (SIGINT),
//! SIGTERM (`docker stop`, systemd, CI cancelling a job) and SIGHUP (a
//! closed terminal or SSH session) into a flag that stays set, so an interrupt that arrives while nobody is
//! waiting (during a backup, at a prompt) is seen by the next wait instead of
//! being lost. Creating the listener takes over these signals from the
//! default "kill the process", so only commands that stop cleanly create
//! one. The process then exits with 128 + the signal's number (130, 143,
//! 129), as a shell reports a process killed by it.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// The exit code of the first signal received (0 before any).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The exit code for a command stopped by an interrupt: 128 + the number of
/// the signal that stopped it (130 for Ctrl-C, when none was recorded).
pub fn exit_code() -> i32 {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => 130,
        code => code,
    }
}

/// Resolves with 128 + the number of the first of SIGINT, SIGTERM and
/// SIGHUP to arrive.
#[cfg(unix)]
async fn first_signal() -> Option<i32> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok()?;
    let mut hup = signal(SignalKind::hangup()).ok()?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.ok().map(|()| 130),
        _ = term.recv() => Some(143),
        _ = hup.recv() => Some(129),
    }
}

#[cfg(not(unix))]
async fn first_signal() -> Option<i32> {
    tokio::signal::ctrl_c().await.ok().map(|()| 130)
}

#[derive(Clone, Debug)]
pub struct Interrupt {
    rx: watch::Receiver<bool>,
    /// Keeps the channel open for an interrupt that never listens.
    _tx: Option<Arc<watch::Sender<bool>>>,
}

impl Interrupt {
    /// Listens for Ctrl-C, SIGTERM and SIGHUP from now on. Must be called
    /// inside a tokio runtime.
    pub fn listen() -> Interrupt {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            if let Some(code) = first_signal().await {
                let _ = RECEIVED.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
                let _ = tx.send(true);
            }
            // Keep the sender alive so that waits never end by a closed channel.
            std::future::pending::<()>().await;
        });
        Interrupt { rx, _tx: None }
    }

    /// An interrupt that never arrives (tests, non-interactive callers).
    pub fn never() -> Interrupt {
        let (tx, rx) = watch::channel(false);
        Interrupt {
            rx,
            _tx: Some(Arc::new(tx)),
        }
    }

    /// Whether an interrupt arrived.
    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves when an interrupt arrives (at once if one already has).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|set| *set).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
