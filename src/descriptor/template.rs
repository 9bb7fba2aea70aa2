//! Output placeholders: `${resource.name}`, `${resource.host}`,
//! `${project.name}`, `${environment.name}` and `${env.KEY}`: parsing (for
//! checks and plans) and rendering (at read or injection time).

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placeholder {
    ResourceName,
    ResourceHost,
    ProjectName,
    EnvironmentName,
    Env(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Var(Placeholder),
}

/// A parse problem with the character offset of the placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    /// Character offset of the placeholder within the template.
    pub offset: usize,
    /// Its length in characters.
    pub len: usize,
    pub message: String,
    pub help: String,
}

pub fn parse(s: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = s;
    let mut offset = 0;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(TemplateError {
                offset: offset + rest[..start].chars().count(),
                len: rest[start..].chars().count(),
                message: "unterminated placeholder `${`".into(),
                help: "close it with `}`, e.g. `${resource.host}`".into(),
            });
        };
        let inner = &after[..end];
        let at = offset + rest[..start].chars().count();
        let len = inner.chars().count() + 3;
        let p = match inner.split_once('.') {
            Some(("resource", "name")) => Placeholder::ResourceName,
            Some(("resource", "host")) => Placeholder::ResourceHost,
            Some(("project", "name")) => Placeholder::ProjectName,
            Some(("environment", "name")) => Placeholder::EnvironmentName,
            Some(("env", key)) if !key.is_empty() => Placeholder::Env(key.to_string()),
            Some((root @ ("resource" | "project" | "environment"), field)) => {
                let allowed = if root == "resource" {
                    "`name` or `host`"
                } else {
                    "`name`"
                };
                return Err(TemplateError {
                    offset: at,
                    len,
                    message: format!(
                        "unknown placeholder `${{{inner}}}`: `{root}` has no field `{field}`"
                    ),
                    help: format!("`{root}` offers {allowed}"),
                });
            }
            _ if matches!(
                inner.split('.').next(),
                Some("resource" | "project" | "environment" | "env")
            ) =>
            {
                let root = inner.split('.').next().unwrap_or(inner);
                let example = match root {
                    "resource" => "`${resource.name}` or `${resource.host}`",
                    "project" => "`${project.name}`",
                    "environment" => "`${environment.name}`",
                    _ => "`${env.POSTGRES_USER}`",
                };
                return Err(TemplateError {
                    offset: at,
                    len,
                    message: format!("incomplete placeholder `${{{inner}}}`"),
                    help: format!("name a field, e.g. {example}"),
                });
            }
            _ => {
                let root = inner.split('.').next().unwrap_or(inner);
                let hint = crate::diagnostics::suggest(
                    root,
                    ["resource", "project", "environment", "env"],
                )
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
                return Err(TemplateError {
                    offset: at,
                    len,
                    message: format!("unknown placeholder `${{{inner}}}`: `{root}` is not a placeholder root"),
                    help: format!("{hint}placeholders are ${{resource.name}}, ${{resource.host}}, ${{project.name}}, ${{environment.name}} and ${{env.KEY}}"),
                });
            }
        };
        pieces.push(Piece::Var(p));
        let consumed = start + 2 + end + 1;
        offset += rest[..consumed].chars().count();
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

/// What placeholders resolve to.
pub struct Context<'a> {
    pub resource: &'a str,
    pub host: &'a str,
    pub project: &'a str,
    pub environment: &'a str,
    pub env: &'a BTreeMap<String, String>,
}

/// Why a template cannot be rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("{}", .0.message)]
    Parse(TemplateError),
    #[error("`${{env.{0}}}` has no value")]
    NoValue(String),
}

/// Renders a template; `Err` names an `${env.KEY}` with no value.
pub fn render(s: &str, cx: &Context) -> Result<String, RenderError> {
    let mut out = String::new();
    for piece in parse(s).map_err(RenderError::Parse)? {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Var(Placeholder::ResourceName) => out.push_str(cx.resource),
            Piece::Var(Placeholder::ResourceHost) => out.push_str(cx.host),
            Piece::Var(Placeholder::ProjectName) => out.push_str(cx.project),
            Piece::Var(Placeholder::EnvironmentName) => out.push_str(cx.environment),
            Piece::Var(Placeholder::Env(k)) => match cx.env.get(&k) {
                Some(v) => out.push_str(v),
                None => return Err(RenderError::NoValue(k)),
            },
        }
    }
    Ok(out)
}

/// The `${env.KEY}` keys a template reads.
pub fn env_keys(s: &str) -> Vec<String> {
    parse(s)
        .map(|ps| {
            ps.into_iter()
                .filter_map(|p| {
                    if let Piece::Var(Placeholder::Env(k)) = p {
                        Some(k)
                    } else {
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        let env = BTreeMap::from([("U".to_string(), "app".to_string())]);
        let cx = Context {
            resource: "db",
            host: "db.production.p.resource.internal",
            project: "p",
            environment: "production",
            env: &env,
        };
        assert_eq!(
            render("pg://${env.U}@${resource.host}:5432/${project.name}", &cx).unwrap(),
            "pg://app@db.production.p.resource.internal:5432/p"
        );
        assert!(parse("${resource.port}")
            .unwrap_err()
            .message
            .contains("no field `port`"));
        assert!(parse("${secret.x}")
            .unwrap_err()
            .message
            .contains("is not a placeholder root"));
        assert!(parse("${env.}").unwrap_err().message.contains("incomplete"));
        assert!(parse("${resource}")
            .unwrap_err()
            .message
            .contains("incomplete"));
        let e = parse("é ${x.y} z").unwrap_err();
        assert_eq!((e.offset, e.len), (2, 6));
        assert_eq!(parse("ab ${env.X").unwrap_err().offset, 3);
        assert!(render("${env.NOPE}", &cx).is_err());
    }
}
