//! Interrupts as a value. One listener per process turns Ctrl-C (SIGINT)
//! into a flag that stays set, so an interrupt that arrives while nobody is
//! waiting (during a backup, at a prompt) is seen by the next wait instead of
//! being lost. Creating the listener takes over Ctrl-C from the default
//! "kill the process", so only commands that stop cleanly create one.

use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct Interrupt {
    rx: watch::Receiver<bool>,
    /// Keeps the channel open for an interrupt that never listens.
    _tx: Option<Arc<watch::Sender<bool>>>,
}

impl Interrupt {
    /// Listens for Ctrl-C from now on. Must be called inside a tokio runtime.
    pub fn listen() -> Interrupt {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
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
