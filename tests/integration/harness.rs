//! The runner of the integration binary, on `libtest-mimic`: it turns every
//! module's `cases!` list into trials named `module::test` (so filters such
//! as `cargo test --test integration plan_` work as before), asks once at
//! start whether a Docker engine answers, and marks the Docker-backed tests
//! ignored when none does — reported as skipped, not passed. With
//! `COMPARTMENT_REQUIRE_DOCKER=1` they are not ignored but fail instead.
//! The closing line keeps libtest's format (`test result: ok. N passed; …`).

use crate::engine;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;

cases! {
    plain every_test_is_registered,
}

/// What a test needs from the machine.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    Docker,
}

/// One test: its name in its module, its body, what it needs.
pub struct Case {
    pub name: &'static str,
    pub run: fn(),
    pub needs: Needs,
}

impl Case {
    pub const fn plain(name: &'static str, run: fn()) -> Case {
        Case {
            name,
            run,
            needs: Needs::Nothing,
        }
    }

    pub const fn docker(name: &'static str, run: fn()) -> Case {
        Case {
            name,
            run,
            needs: Needs::Docker,
        }
    }
}

/// Whether a Docker engine answered the one probe made at start.
#[derive(Clone)]
enum Engine {
    Up,
    Absent { reason: String, required: bool },
}

impl Engine {
    fn probe() -> Engine {
        let (ok, out) = engine::docker(&["info", "--format", "{{.ServerVersion}}"]);
        if ok {
            return Engine::Up;
        }
        Engine::Absent {
            reason: out.trim().to_string(),
            required: std::env::var("COMPARTMENT_REQUIRE_DOCKER").as_deref() == Ok("1"),
        }
    }

    /// Ignored when no engine answers and none is required.
    fn ignores(&self) -> bool {
        matches!(
            self,
            Engine::Absent {
                required: false,
                ..
            }
        )
    }

    /// Runs a Docker-backed test, or says why it cannot run (required, or
    /// asked for with `--ignored`, while no engine answers).
    fn run(&self, test: fn()) -> Result<(), Failed> {
        match self {
            Engine::Up => {
                engine::ensure_images();
                test();
                Ok(())
            }
            Engine::Absent {
                reason,
                required: true,
            } => Err(format!(
                "COMPARTMENT_REQUIRE_DOCKER=1 but no Docker engine answers: {reason}"
            )
            .into()),
            Engine::Absent { reason, .. } => {
                Err(format!("no Docker engine answers: {reason}").into())
            }
        }
    }
}

/// Runs the selected tests and exits with libtest's status.
pub fn run(modules: &[(&str, &[Case])]) -> ! {
    let args = Arguments::from_args();
    let cases: Vec<(String, &Case)> = modules
        .iter()
        .flat_map(|(module, cases)| {
            cases
                .iter()
                .map(move |c| (format!("{module}::{}", c.name), c))
        })
        .collect();
    // Selected by name (and `--skip`); with `--ignored`, every Docker-backed
    // test may be among the ignored ones, so it counts as selected too.
    let selected = |name: &str| {
        let probe = Trial::test(name, || Ok(())).with_ignored_flag(args.ignored);
        !args.is_filtered_out(&probe)
    };
    let docker_selected = cases
        .iter()
        .filter(|(name, c)| c.needs == Needs::Docker && selected(name))
        .count();
    // The engine is asked only when a selected test needs it.
    let engine = if docker_selected > 0 {
        Engine::probe()
    } else {
        Engine::Up
    };
    if let Engine::Absent {
        reason,
        required: false,
    } = &engine
    {
        eprintln!(
            "note: no Docker engine answers ({reason}); {docker_selected} Docker-backed \
             test(s) are reported as ignored (COMPARTMENT_REQUIRE_DOCKER=1 makes them fail)"
        );
    }
    let trials = cases
        .into_iter()
        .map(|(name, case)| trial(name, case, &engine))
        .collect();
    libtest_mimic::run(&args, trials).exit()
}

fn trial(name: String, case: &Case, engine: &Engine) -> Trial {
    let run = case.run;
    match case.needs {
        Needs::Nothing => Trial::test(name, move || {
            run();
            Ok(())
        }),
        Needs::Docker => {
            let ignored = engine.ignores();
            let engine = engine.clone();
            Trial::test(name, move || engine.run(run)).with_ignored_flag(ignored)
        }
    }
}

/// With `harness = false`, a function marked `#[test]` is compiled out and
/// never runs; refuse the attribute so a test cannot be lost that way.
fn every_test_is_registered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.trim() == concat!("#", "[test]") {
                found.push(format!("{}:{}", path.display(), i + 1));
            }
        }
    }
    found.sort();
    assert!(
        found.is_empty(),
        "`#[test]` does nothing in this harness-less binary; list the test in its \
         module's `cases!` instead:\n{}",
        found.join("\n")
    );
}
