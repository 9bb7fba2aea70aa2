//! Rendering a plan for people: terminal text (`+ ~ - ±`, coloured, with
//! `similar` word-level emphasis inside changed values) and GitHub-flavoured
//! markdown for a pull-request comment, kept under a size budget.

use super::*;
use console::Style;
use similar::{ChangeTag, TextDiff};

pub const MARKDOWN_LIMIT: usize = 60_000;

fn value_text(v: &Option<Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(v) => v.to_string(),
    }
}

struct Styles {
    on: bool,
}

impl Styles {
    fn paint(&self, style: Style, s: &str) -> String {
        if self.on {
            style.force_styling(true).apply_to(s).to_string()
        } else {
            s.to_string()
        }
    }

    fn action(&self, a: Action, s: &str) -> String {
        let style = match a {
            Action::Create => Style::new().green(),
            Action::Update => Style::new().yellow(),
            Action::Replace => Style::new().magenta(),
            Action::Delete => Style::new().red(),
            Action::NoOp => Style::new().dim(),
        };
        self.paint(style, s)
    }

    /// `before` and `after` with the changed words emphasised.
    fn word_diff(&self, before: &str, after: &str) -> (String, String) {
        if !self.on {
            return (before.to_string(), after.to_string());
        }
        let diff = TextDiff::from_words(before, after);
        let (mut b, mut a) = (String::new(), String::new());
        for change in diff.iter_all_changes() {
            let v = change.value();
            match change.tag() {
                ChangeTag::Equal => {
                    b.push_str(&self.paint(Style::new().red(), v));
                    a.push_str(&self.paint(Style::new().green(), v));
                }
                ChangeTag::Delete => {
                    b.push_str(&self.paint(Style::new().red().bold().underlined(), v))
                }
                ChangeTag::Insert => {
                    a.push_str(&self.paint(Style::new().green().bold().underlined(), v))
                }
            }
        }
        (b, a)
    }
}

fn header(plan: &Plan) -> String {
    let state = match &plan.prior_state.lineage {
        None => "new state".to_string(),
        Some(l) => format!(
            "state serial {}, lineage {}",
            plan.prior_state.serial,
            &l[..l.len().min(8)]
        ),
    };
    let on = match (&plan.orchestrator, &plan.registry) {
        (Some(o), Some(r)) => format!(" on a {o} (registry {r})"),
        (Some(o), None) => format!(" on a {o}"),
        (None, _) => String::new(),
    };
    match &plan.engine {
        Some(e) => format!(
            "Plan for {} / {}{on} against engine {e} ({state})",
            plan.project, plan.environment
        ),
        None => format!(
            "Plan for {} / {}{on} ({state})",
            plan.project, plan.environment
        ),
    }
}

pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    let mut line = format!(
        "{} to create, {} to update, {} to replace, {} to delete, {} unchanged",
        s.create, s.update, s.replace, s.delete, s.no_op
    );
    if s.blocked > 0 {
        line.push_str(&format!("; {} blocked", s.blocked));
    }
    line
}

/// The plan as terminal text.
pub fn text(plan: &Plan, color: bool) -> String {
    let st = Styles { on: color };
    let mut out = String::new();
    out.push_str(&st.paint(Style::new().bold(), &header(plan)));
    out.push('\n');
    if !plan.targets.is_empty() {
        out.push_str(&format!(
            "Targeted: {} and what it depends on; other changes are not planned.\n",
            plan.targets.join(", ")
        ));
    }
    out.push('\n');
    let mut shown = 0;
    for ch in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        shown += 1;
        text_change(&st, ch, &mut out);
    }
    if shown == 0 && matches!(plan.mode, Mode::Rollback { .. }) {
        out.push_str("Nothing to roll back.\n");
    } else if shown == 0 && !plan.mode.is_apply() && plan.teardown.is_none() {
        out.push_str("Nothing to destroy: nothing is deployed in this environment.\n");
    } else if shown == 0 && plan.blocked.is_empty() && plan.teardown.is_none() {
        out.push_str("No changes. The environment matches the configuration.\n");
    } else if shown == 0 {
        out.push_str("No changes besides the blocked ones below.\n");
    }
    text_teardown(&st, plan, &mut out);
    text_notes(&st, plan, &mut out);
    out.push_str(&format!("\nPlan: {}.\n", summary_line(plan)));
    out
}

/// One change: its line, dependencies, field diff, generated variables,
/// connections and hooks.
fn text_change(st: &Styles, ch: &super::Change, out: &mut String) {
    let mut line = format!(
        "{} {} {}",
        st.action(ch.action, ch.action.symbol()),
        st.paint(Style::new().bold(), &ch.address),
        st.action(ch.action, ch.action.word())
    );
    if let Some(r) = &ch.reason {
        line.push_str(&format!(": {r}"));
    }
    if ch.global {
        line.push_str(" [global]");
    }
    out.push_str(&line);
    out.push('\n');
    if !ch.depends_on.is_empty() {
        out.push_str(&format!("    after: {}\n", ch.depends_on.join(", ")));
    }
    for f in ch.diff.iter().filter(|f| !f.unchanged) {
        let (b, a) = st.word_diff(&value_text(&f.before), &value_text(&f.after));
        let tag = if f.forces_replacement {
            st.paint(Style::new().magenta(), "  # forces replacement")
        } else {
            String::new()
        };
        match (&f.before, &f.after) {
            (None, Some(_)) => out.push_str(&format!(
                "    {} {}: {a}{tag}\n",
                st.paint(Style::new().green(), "+"),
                f.path
            )),
            (Some(_), None) => out.push_str(&format!(
                "    {} {}: {b}{tag}\n",
                st.paint(Style::new().red(), "-"),
                f.path
            )),
            _ => out.push_str(&format!(
                "    {} {}: {b} → {a}{tag}\n",
                st.paint(Style::new().yellow(), "~"),
                f.path
            )),
        }
    }
    if let Some(kept) = unchanged_note(ch) {
        out.push_str(&format!("    {}\n", st.paint(Style::new().dim(), &kept)));
    }
    for (k, w) in &ch.generated {
        let words = match w.as_str() {
            "generate" => "will be generated",
            "regenerate" => "was removed and will be regenerated",
            _ => "kept",
        };
        out.push_str(&format!("    generated {k}: {words}\n"));
    }
    for c in &ch.connections {
        out.push_str(&format!("    connection {c}\n"));
    }
    for h in &ch.hooks {
        out.push_str(&format!(
            "    hook {}: {} {} on service.{}\n",
            h.operation, h.method, h.path, h.service
        ));
    }
    if let Some(role) = &ch.role {
        out.push_str(&format!(
            "    requires role: {role} ({})\n",
            ch.action.word()
        ));
    }
    if let Some(node) = &ch.node {
        out.push_str(&format!("    node: {node}\n"));
    }
    for (v, fate) in &ch.volumes {
        if fate == "delete" {
            let line = format!("volume {v}: DATA WILL BE DELETED");
            out.push_str(&format!(
                "    {}\n",
                st.paint(Style::new().red().bold(), &line)
            ));
        } else {
            out.push_str(&format!("    volume {v}: kept\n"));
        }
    }
    for image in &ch.prune_images {
        out.push_str(&format!(
            "    image {image}: pruned (an older release than the service keeps)\n"
        ));
    }
}

/// What a destroy removes after its nodes.
fn text_teardown(st: &Styles, plan: &Plan, out: &mut String) {
    let Some(t) = &plan.teardown else {
        return;
    };
    let minus = st.action(Action::Delete, "-");
    if let Some(n) = &t.network {
        out.push_str(&format!("{minus} network {n}\n"));
    }
    for i in &t.images {
        out.push_str(&format!(
            "{minus} image {i} (kept if another container uses it)\n"
        ));
    }
}

/// The blocked changes and the warnings.
fn text_notes(st: &Styles, plan: &Plan, out: &mut String) {
    if !plan.blocked.is_empty() {
        out.push('\n');
        out.push_str(&st.paint(Style::new().red().bold(), "Blocked:"));
        out.push('\n');
        for b in &plan.blocked {
            out.push_str(&format!(
                "  {} {} ({}): {}\n",
                st.paint(Style::new().red(), "✗"),
                b.address,
                b.reason,
                b.message
            ));
            if let Some(h) = &b.help {
                out.push_str(&format!("    help: {h}\n"));
            }
        }
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
        out.push_str(&st.paint(Style::new().yellow().bold(), "Warnings:"));
        out.push('\n');
        for w in &plan.warnings {
            out.push_str(&format!(
                "  {} {} ({}): {}\n",
                st.paint(Style::new().yellow(), "!"),
                w.address,
                w.reason,
                w.message
            ));
        }
    }
}

fn emoji(a: Action) -> &'static str {
    match a {
        Action::Create => "➕",
        Action::Update => "🔄",
        Action::Replace => "♻️",
        Action::Delete => "🗑️",
        Action::NoOp => "",
    }
}

/// What a replace keeps, counted: `# (12 unchanged attributes hidden)`.
fn unchanged_note(ch: &Change) -> Option<String> {
    let n = ch.diff.iter().filter(|f| f.unchanged).count();
    (n > 0).then(|| {
        format!(
            "# ({n} unchanged attribute{} hidden; the plan file and --json list them)",
            if n == 1 { "" } else { "s" }
        )
    })
}

fn change_details(ch: &Change) -> String {
    let mut body = String::new();
    for f in &ch.diff {
        let tag = if f.forces_replacement {
            "  # forces replacement"
        } else {
            ""
        };
        if f.unchanged {
            continue;
        }
        if f.before.is_some() {
            body.push_str(&format!("- {}: {}{tag}\n", f.path, value_text(&f.before)));
        }
        if f.after.is_some() {
            body.push_str(&format!("+ {}: {}{tag}\n", f.path, value_text(&f.after)));
        }
    }
    if let Some(kept) = unchanged_note(ch) {
        body.push_str(&format!("  {kept}\n"));
    }
    for (k, w) in &ch.generated {
        body.push_str(&format!("  generated {k}: {w}\n"));
    }
    for c in &ch.connections {
        body.push_str(&format!("  connection {c}\n"));
    }
    for h in &ch.hooks {
        body.push_str(&format!(
            "  hook {}: {} {} on service.{}\n",
            h.operation, h.method, h.path, h.service
        ));
    }
    if let Some(role) = &ch.role {
        body.push_str(&format!("  requires role: {role} ({})\n", ch.action.word()));
    }
    if let Some(node) = &ch.node {
        body.push_str(&format!("  node: {node}\n"));
    }
    for (v, fate) in &ch.volumes {
        match fate.as_str() {
            "delete" => body.push_str(&format!("- volume {v}: DATA WILL BE DELETED\n")),
            _ => body.push_str(&format!("  volume {v}: kept\n")),
        }
    }
    for image in &ch.prune_images {
        body.push_str(&format!("  image {image}: pruned (an older release)\n"));
    }
    let summary = match &ch.reason {
        Some(r) => format!(
            "<code>{}</code> — {}: {}",
            ch.address,
            ch.action.word(),
            html_escape(r)
        ),
        None => format!("<code>{}</code> — {}", ch.address, ch.action.word()),
    };
    format!(
        "<details><summary>{summary}</summary>\n\n```diff\n{}```\n\n</details>\n",
        body.replace("```", "ʼʼʼ")
    )
}

/// Escapes HTML; `code` spans become `<code>` (markdown is not rendered
/// inside `<summary>`).
fn html_escape(s: &str) -> String {
    let escaped = s
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    if !escaped.matches('`').count().is_multiple_of(2) {
        return escaped;
    }
    escaped
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// The plan as a pull-request comment: summary table first, details in
/// collapsible blocks, cut with a note to stay under `limit` characters.
pub fn markdown(plan: &Plan, limit: usize) -> String {
    let mut head = format!(
        "### compartment plan: `{}` / `{}`\n\n**{}**\n\n",
        plan.project,
        plan.environment,
        summary_line(plan)
    );
    if !plan.targets.is_empty() {
        head.push_str(&format!(
            "Targeted: {} and what it depends on; other changes are not planned.\n\n",
            plan.targets
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // Blockers and warnings share a third of the budget; the rest is for
    // the table and the details.
    let list_budget = limit / 3;
    let list = |head: &mut String, items: Vec<String>, what: &str| {
        let total = items.len();
        let mut shown = 0;
        for line in items {
            if head.len() + line.len() > list_budget {
                break;
            }
            head.push_str(&line);
            shown += 1;
        }
        if shown < total {
            head.push_str(&format!("> - _…and {} more {what}._\n", total - shown));
        }
        head.push('\n');
    };
    if !plan.blocked.is_empty() {
        head.push_str("> [!CAUTION]\n> This plan is **blocked** and cannot be applied:\n");
        let items = plan
            .blocked
            .iter()
            .map(|b| format!("> - `{}` ({}): {}\n", b.address, b.reason, b.message))
            .collect();
        list(&mut head, items, "blocked changes");
    }
    if !plan.warnings.is_empty() {
        head.push_str("> [!WARNING]\n");
        let items = plan
            .warnings
            .iter()
            .map(|w| format!("> - `{}` ({}): {}\n", w.address, w.reason, w.message))
            .collect();
        list(&mut head, items, "warnings");
    }
    let changed: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    if changed.is_empty() {
        head.push_str("No changes.\n");
        return head;
    }
    let reserve = 400;
    let mut out = head;
    let mut table = String::from("| | Address | Action | Reason |\n|---|---|---|---|\n");
    let mut rows_shown = 0;
    for ch in &changed {
        let row = format!(
            "| {} | `{}` | {} | {} |\n",
            emoji(ch.action),
            ch.address,
            ch.action.word(),
            ch.reason.as_deref().unwrap_or("").replace('|', "\\|")
        );
        if out.len() + table.len() + row.len() + reserve > limit {
            break;
        }
        table.push_str(&row);
        rows_shown += 1;
    }
    out.push_str(&table);
    if rows_shown < changed.len() {
        out.push_str(&format!(
            "\n_…and {} more changes not listed._\n",
            changed.len() - rows_shown
        ));
    }
    out.push('\n');
    let mut details_shown = 0;
    for ch in &changed {
        let d = change_details(ch);
        if out.len() + d.len() + reserve > limit {
            break;
        }
        out.push_str(&d);
        details_shown += 1;
    }
    if details_shown < changed.len() {
        out.push_str(&format!(
            "\n> [!NOTE]\n> Truncated to stay under {limit} characters: details of {} of {} changes are not shown. Run `compartment show <plan file>` for the whole plan.\n",
            changed.len() - details_shown,
            changed.len()
        ));
    }
    out
}
