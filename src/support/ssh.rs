//! The user's own `ssh`: `ssh`, or the program and options named by
//! `COMPARTMENT_SSH` (like git's `GIT_SSH_COMMAND`, e.g. `ssh -F
//! ~/.ssh/deploy_config`), always in batch mode (no prompt: a missing key
//! fails instead of waiting for a password). Both the `ssh://` engine
//! tunnel and the SFTP backup targets go through it, so keys, agent,
//! `known_hosts` and `~/.ssh/config` apply as they do for `ssh` itself.

use std::process::Command;

/// The variable naming another ssh command.
pub const SSH_VAR: &str = "COMPARTMENT_SSH";

/// `ssh` (or `COMPARTMENT_SSH`) with `-o BatchMode=yes`, and `-p PORT`
/// when `port` is given; the caller adds its options and the destination.
pub fn command(port: Option<u16>) -> Command {
    let program = std::env::var(SSH_VAR)
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "ssh".into());
    let mut words = program.split_whitespace();
    let mut cmd = Command::new(words.next().unwrap_or("ssh"));
    cmd.args(words).args(["-o", "BatchMode=yes"]);
    if let Some(p) = port {
        cmd.args(["-p", &p.to_string()]);
    }
    cmd
}
