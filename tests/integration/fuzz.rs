//! Property tests on the loaders: arbitrary bytes and mutated valid files
//! never panic, and every diagnostic points inside the file it names.
//!
//! The default is proptest's 256 cases per property (a few seconds); set
//! PROPTEST_CASES for a longer run, e.g.
//! `PROPTEST_CASES=20000 cargo test --release --test integration fuzz`.

use crate::test::fixture;
use compartment::diagnostics::{render_json, render_text, Diagnostic, Severity, Sources};
use compartment::{project, yaml};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

cases! {
    plain arbitrary_bytes_never_panic_and_are_located,
    plain yamlish_text_never_panics_and_is_located,
    plain mutated_example_compartment_yml_is_located,
    plain mutated_example_resources_yaml_is_located,
    plain hostile_yaml_is_refused_not_crashed,
}

/// Checks one loader run: every diagnostic but an unreadable file is
/// located, within the lines and columns of its file; rendering works.
fn check_located(sources: &Sources, diagnostics: &[Diagnostic]) -> Result<(), TestCaseError> {
    for d in diagnostics {
        let Some(loc) = d.loc else {
            prop_assert!(
                d.code == "unreadable-file",
                "unlocated diagnostic {}: {}",
                d.code,
                d.message
            );
            continue;
        };
        prop_assert!(loc.file < sources.files().len(), "bad file index in {d:?}");
        let text = &sources.get(loc.file).text;
        let lines: Vec<&str> = text.lines().collect();
        prop_assert!(
            loc.line >= 1 && loc.line as usize <= lines.len().max(1),
            "{}: line {} outside 1..={} in {d:?}",
            d.code,
            loc.line,
            lines.len()
        );
        let width = lines
            .get(loc.line as usize - 1)
            .map(|l| l.chars().count())
            .unwrap_or(0);
        prop_assert!(
            loc.col >= 1 && loc.col as usize <= width + 1,
            "{}: column {} outside 1..={} on line {} in {d:?}",
            d.code,
            loc.col,
            width + 1,
            loc.line
        );
        prop_assert!(!d.message.is_empty());
        if d.severity == Severity::Error {
            prop_assert!(d.help.is_some(), "error without help: {d:?}");
        }
    }
    let text = render_text(sources, diagnostics, true);
    prop_assert_eq!(text.is_empty(), diagnostics.is_empty());
    let _ = render_json(sources, diagnostics);
    Ok(())
}

fn load_and_check(file: &Path) -> Result<(), TestCaseError> {
    let loaded = project::load(file, &BTreeMap::new());
    let sorted = loaded.diagnostics.sorted(&loaded.sources);
    check_located(&loaded.sources, &sorted)
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A scratch copy of the example project, made once per test process.
fn example_copy() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&fixture("example"), dir.path());
        dir
    })
    .path()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Writes `bytes` as a uniquely named descriptor in `dir`, loads and
/// checks it, and removes it.
fn with_file(dir: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let file: PathBuf = dir.join(format!("case-{}-{n}.yml", std::process::id()));
    std::fs::write(&file, bytes).unwrap();
    let result = load_and_check(&file);
    let _ = std::fs::remove_file(&file);
    result
}

/// Text that looks a little like YAML, to get past the first line.
fn yamlish() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "([a-zA-Z_$.{}/-]{0,8}|[ ]{0,6}|[-:?,#&*!|>'\"%@`\\[\\]{}]|[0-9]{1,5}|\n|\t){0,120}",
    )
    .unwrap()
}

#[derive(Clone, Debug)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Indent(usize, i8),
    TabIndent(usize),
    ReplaceToken(usize, usize, String),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), -6i8..7).prop_map(|(l, d)| Mutation::Indent(l, d)),
        any::<usize>().prop_map(Mutation::TabIndent),
        (any::<usize>(), any::<usize>(), any::<String>())
            .prop_map(|(l, t, s)| Mutation::ReplaceToken(l, t, s)),
        (any::<usize>(), any::<usize>(), yamlish())
            .prop_map(|(l, t, s)| Mutation::ReplaceToken(l, t, s)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for m in mutations {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match m {
            Mutation::DeleteLine(i) => {
                lines.remove(i % n);
            }
            Mutation::DuplicateLine(i) => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Mutation::SwapLines(a, b) => lines.swap(a % n, b % n),
            Mutation::Indent(i, d) => {
                let l = &mut lines[i % n];
                if *d >= 0 {
                    l.insert_str(0, &" ".repeat(*d as usize));
                } else {
                    let strip = l
                        .chars()
                        .take_while(|c| *c == ' ')
                        .count()
                        .min(d.unsigned_abs() as usize);
                    l.drain(..strip);
                }
            }
            Mutation::TabIndent(i) => lines[i % n].insert(0, '\t'),
            Mutation::ReplaceToken(i, t, s) => {
                let l = &lines[i % n];
                // Tokens: runs of characters between spaces and colons.
                let spans: Vec<(usize, usize)> = {
                    let mut out = Vec::new();
                    let mut start = None;
                    for (b, c) in l.char_indices() {
                        let sep = c == ' ' || c == ':';
                        match (sep, start) {
                            (false, None) => start = Some(b),
                            (true, Some(s)) => {
                                out.push((s, b));
                                start = None;
                            }
                            _ => {}
                        }
                    }
                    if let Some(s) = start {
                        out.push((s, l.len()));
                    }
                    out
                };
                if !spans.is_empty() {
                    let (a, b) = spans[t % spans.len()];
                    lines[i % n] = format!("{}{}{}", &l[..a], s, &l[b..]);
                }
            }
            Mutation::Truncate(i) => {
                let l = &lines[i % n];
                let cut = l
                    .char_indices()
                    .nth(i % (l.chars().count() + 1))
                    .map(|(b, _)| b)
                    .unwrap_or(l.len());
                lines[i % n] = l[..cut].to_string();
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Failures are shrunk and printed; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    fn arbitrary_bytes_never_panic_and_are_located(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        with_file(dir.path(), &bytes)?;
    }

    fn yamlish_text_never_panics_and_is_located(text in yamlish()) {
        let dir = tempfile::tempdir().unwrap();
        with_file(dir.path(), text.as_bytes())?;
        let mut sources = Sources::default();
        sources.add(Path::new("t.yml"), text.clone());
        let (_, diags) = yaml::parse(0, &text);
        check_located(&sources, &diags)?;
    }

    fn mutated_example_compartment_yml_is_located(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let text = std::fs::read_to_string(fixture("example/compartment.yml")).unwrap();
        let mutated = mutate(&text, &mutations);
        with_file(example_copy(), mutated.as_bytes())?;
    }

    fn mutated_example_resources_yaml_is_located(
        mutations in proptest::collection::vec(mutation(), 1..4),
        which in prop_oneof![Just("storefront"), Just("billing")],
    ) {
        // The shared example copy, with this service moved to a directory of
        // its own holding the mutated file.
        let root = example_copy();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let rel = format!("cases/{}-{n}/{which}", std::process::id());
        let platz = root.join(&rel).join("platz");
        std::fs::create_dir_all(&platz).unwrap();
        std::fs::write(root.join(&rel).join("Dockerfile"), "FROM scratch\n").unwrap();
        let text = std::fs::read_to_string(
            fixture("example").join(format!("services/{which}/platz/resources.yaml")),
        )
        .unwrap();
        std::fs::write(platz.join("resources.yaml"), mutate(&text, &mutations)).unwrap();
        let compartment = std::fs::read_to_string(fixture("example/compartment.yml"))
            .unwrap()
            .replace(&format!("path: services/{which}"), &format!("path: {rel}"));
        let result = with_file(root, compartment.as_bytes());
        let _ = std::fs::remove_dir_all(root.join(&rel));
        result?;
    }
}

fn hostile_yaml_is_refused_not_crashed() {
    let deep = format!("a: {}1{}\n", "[".repeat(200), "]".repeat(200));
    let block_deep: String = (0..300)
        .map(|i| format!("{}- \n", " ".repeat(i * 2)))
        .collect();
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    for text in [deep.as_str(), block_deep.as_str(), laughs] {
        let mut sources = Sources::default();
        sources.add(Path::new("t.yml"), text.to_string());
        let (root, diags) = yaml::parse(0, text);
        assert!(root.is_none(), "accepted: {}", &text[..40.min(text.len())]);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, "yaml-syntax");
        check_located(&sources, &diags).unwrap();
    }
}
