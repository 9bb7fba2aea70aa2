//! Decoding `<service path>/platz/resources.yaml`: a list of
//! `platz.io/v1beta1` `ResourceType` entries owned by that service.

use super::model::*;
use crate::yaml::decode::{index, join, Cx, Fields};
use crate::yaml::{Node, Value};

const TYPE: &[&str] = &["apiVersion", "kind", "key", "spec"];
const SPEC: &[&str] = &[
    "name_singular",
    "name_plural",
    "fontawesome_icon",
    "global",
    "values_ui",
    "lifecycle",
];
const VALUES_UI: &[&str] = &["inputs", "outputs"];
const INPUT: &[&str] = &[
    "id",
    "type",
    "label",
    "required",
    "initialValue",
    "helpText",
    "sensitive",
    "minimum",
    "maximum",
    "step",
    "options",
    "showIfAll",
    "collection",
    "itemType",
];
const OUTPUTS: &[&str] = &["values", "secrets"];
const OUTPUT_VALUE: &[&str] = &["path", "value"];
const LIFECYCLE: &[&str] = &["create", "update", "delete"];
const LIFECYCLE_OP: &[&str] = &["allowed_role", "target"];
const TARGET: &[&str] = &["endpoint", "path", "method"];
pub const ROLES: &[&str] = &["Owner", "Maintainer"];
pub const ENDPOINTS: &[&str] = &["standard_ingress"];
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Decodes every resource type of one file. `path` is the YAML path prefix
/// used in diagnostics (empty: the file is a top-level list).
pub fn decode(cx: &mut Cx, owner: &str, root: &Node) -> Vec<ResourceType> {
    let mut out: Vec<ResourceType> = Vec::new();
    let items = match &root.value {
        Value::Seq(items) => items,
        Value::Null => return out,
        _ => {
            cx.type_error(
                root,
                "",
                "a list of ResourceType entries (`- apiVersion: platz.io/v1beta1 ...`)",
            );
            return out;
        }
    };
    for (i, item) in items.iter().enumerate() {
        let path = index("", i);
        if let Some(t) = resource_type(cx, owner, item, &path) {
            if let Some(first) = out.iter().find(|o| o.key == t.key) {
                let loc = cx.locs.value(&join(&path, "key")).unwrap_or(item.loc);
                cx.error(
                    "duplicate-name",
                    loc,
                    &join(&path, "key"),
                    format!(
                        "resource type key `{}` is declared twice by service `{owner}`",
                        first.key
                    ),
                    "keys are unique per owning service: rename or remove one of them",
                );
                continue;
            }
            cx.locs.set_alias(format!("#{}", t.key), path.clone());
            out.push(t);
        }
    }
    out
}

fn resource_type(cx: &mut Cx, owner: &str, node: &Node, path: &str) -> Option<ResourceType> {
    let f = cx.fields(node, path, TYPE)?;
    check_header(cx, &f);
    let key = type_key(cx, &f);
    let spec_node = cx.required(
        &f,
        "spec",
        "the type's spec (name_singular, name_plural, fontawesome_icon, values_ui)",
    )?;
    let spath = f.path("spec");
    let s = cx.fields(spec_node, &spath, SPEC)?;
    spec(cx, owner, key, &s)
}

/// `apiVersion: platz.io/v1beta1` and `kind: ResourceType`, the only ones
/// understood.
fn check_header(cx: &mut Cx, f: &Fields) {
    if let Some(v) = cx.required(f, "apiVersion", "`platz.io/v1beta1`") {
        if let Some(s) = cx.string(v, &f.path("apiVersion")) {
            if s != "platz.io/v1beta1" {
                cx.error(
                    "unknown-api-version",
                    v.loc,
                    &f.path("apiVersion"),
                    format!("unsupported apiVersion `{s}`"),
                    "use `apiVersion: platz.io/v1beta1`",
                );
            }
        }
    }
    if let Some(v) = cx.required(f, "kind", "`ResourceType`") {
        if let Some(s) = cx.string(v, &f.path("kind")) {
            if s != "ResourceType" {
                cx.error(
                    "unknown-kind",
                    v.loc,
                    &f.path("kind"),
                    format!("unsupported kind `{s}`"),
                    "resources.yaml holds only `kind: ResourceType` entries",
                );
            }
        }
    }
}

/// The type's `key`, reported when it is not a usable identifier (it is
/// still returned, so later checks can name it).
fn type_key(cx: &mut Cx, f: &Fields) -> Option<String> {
    let key = cx
        .required(f, "key", "the type's machine identifier, e.g. `shop`")
        .and_then(|n| cx.string(n, &f.path("key")));
    if let (Some(k), Some(n)) = (&key, f.get("key")) {
        if !crate::yaml::decode::valid_name(k)
            && !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            cx.error(
                "invalid-name",
                n.loc,
                &f.path("key"),
                format!("`{k}` is not a valid resource type key"),
                "use letters, digits, `-` and `_`",
            );
        }
    }
    key
}

/// The type's `spec`: display names, icon, scope, values UI and lifecycle.
/// `None` when a required part is missing (all of it is still checked).
fn spec(cx: &mut Cx, owner: &str, key: Option<String>, s: &Fields) -> Option<ResourceType> {
    let text = |cx: &mut Cx, s: &Fields, k: &str, what: &str| {
        cx.required(s, k, what)
            .and_then(|n| cx.string(n, &s.path(k)))
    };
    let name_singular = text(
        cx,
        s,
        "name_singular",
        "the display name of one instance, e.g. `Shop`",
    );
    let name_plural = text(
        cx,
        s,
        "name_plural",
        "the display name of many, e.g. `Shops`",
    );
    let icon = text(
        cx,
        s,
        "fontawesome_icon",
        "a FontAwesome icon name without `fa-`, e.g. `shop`",
    );
    let global = s
        .get("global")
        .and_then(|n| cx.boolean(n, &s.path("global")))
        .unwrap_or(false);
    let (inputs, outputs) = values_ui(cx, s);
    let lifecycle = s
        .get("lifecycle")
        .map(|l| lifecycle(cx, l, &s.path("lifecycle")))
        .unwrap_or_default();
    Some(ResourceType {
        owner: owner.to_string(),
        key: key?,
        name_singular: name_singular?,
        name_plural: name_plural?,
        fontawesome_icon: icon?,
        global,
        inputs,
        outputs,
        lifecycle,
    })
}

/// The spec's `values_ui`: its inputs, then its outputs (which may refer
/// to the inputs).
fn values_ui(cx: &mut Cx, s: &Fields) -> (Vec<Input>, Vec<OutputValue>) {
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    if let Some(vui) = cx.required(s, "values_ui", "`inputs:` and `outputs:`") {
        let vpath = s.path("values_ui");
        if let Some(v) = cx.fields(vui, &vpath, VALUES_UI) {
            if let Some(list) = v.get("inputs") {
                inputs = decode_inputs(cx, list, &v.path("inputs"));
            }
            if let Some(o) = v.get("outputs") {
                outputs = decode_outputs(cx, o, &v.path("outputs"), &inputs);
            }
        }
    }
    (inputs, outputs)
}

fn input_type(cx: &mut Cx, node: &Node, path: &str) -> Option<InputType> {
    let name = cx.one_of(node, path, INPUT_TYPES, "unknown-input-type", "input type")?;
    Some(match name.as_str() {
        "text" => InputType::Text,
        "number" => InputType::Number,
        "Checkbox" => InputType::Checkbox,
        "RadioSelect" => InputType::RadioSelect,
        "DaysAndHour" => InputType::DaysAndHour,
        "CollectionSelect" => InputType::CollectionSelect,
        _ => InputType::Array(Box::new(InputType::Text)),
    })
}

fn decode_inputs(cx: &mut Cx, node: &Node, path: &str) -> Vec<Input> {
    let Value::Seq(items) = &node.value else {
        cx.type_error(node, path, "a list of inputs");
        return Vec::new();
    };
    let mut inputs: Vec<Input> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(input) = decode_input(cx, item, path, i, &inputs) {
            inputs.push(input);
        }
    }
    inputs
}

/// The `i`th input of the list at `path`; `earlier` are the inputs before
/// it (ids must be unique, `showIfAll` names one of them).
fn decode_input(
    cx: &mut Cx,
    item: &Node,
    path: &str,
    i: usize,
    earlier: &[Input],
) -> Option<Input> {
    let ipath = index(path, i);
    let f = cx.fields(item, &ipath, INPUT)?;
    let id = cx
        .required(&f, "id", "the input's identifier")
        .and_then(|n| cx.string(n, &f.path("id")));
    let kind = cx
        .required(
            &f,
            "type",
            "one of: text, number, Checkbox, RadioSelect, DaysAndHour, CollectionSelect, array",
        )
        .and_then(|n| input_type(cx, n, &f.path("type")));
    let label = f.get("label").and_then(|n| cx.scalar(n, &f.path("label")));
    let (Some(id), Some(kind)) = (id, kind) else {
        return None;
    };
    if let Some(first) = earlier.iter().position(|x| x.id == id) {
        let loc = f.get("id").map(|n| n.loc).unwrap_or(item.loc);
        cx.error(
            "duplicate-name",
            loc,
            &f.path("id"),
            format!("input id `{id}` is used twice in this type"),
            format!(
                "input ids must be unique; the first is {}",
                index(path, first)
            ),
        );
        return None;
    }
    cx.locs.set_alias(format!("{path}#{id}"), ipath.clone());
    let kind = item_type(cx, &f, item, &ipath, kind);
    let (minimum, maximum, step) = bounds(cx, &f, item);
    let options = options(cx, &f);
    let is_radio = matches!(kind, InputType::RadioSelect)
        || matches!(&kind, InputType::Array(t) if **t == InputType::RadioSelect);
    if is_radio && options.is_empty() {
        cx.error(
            "missing-field",
            item.loc,
            &ipath,
            format!("RadioSelect input `{id}` has no `options`"),
            "add `options:` with the values to choose from",
        );
    }
    let collection = collection_field(cx, &f, item, &ipath, &id, &kind);
    let show_if_all = show_if_all(cx, &f, earlier);
    let required = f
        .get("required")
        .and_then(|n| cx.boolean(n, &f.path("required")))
        .unwrap_or(false);
    let sensitive = f
        .get("sensitive")
        .and_then(|n| cx.boolean(n, &f.path("sensitive")))
        .unwrap_or(false);
    let help_text = f
        .get("helpText")
        .and_then(|n| cx.scalar(n, &f.path("helpText")));
    let mut input = Input {
        id: id.clone(),
        kind,
        label: label.unwrap_or_else(|| id.clone()),
        required,
        initial_value: None,
        help_text,
        sensitive,
        minimum,
        maximum,
        step,
        options,
        show_if_all,
        collection,
    };
    initial_value(cx, &f, &mut input);
    Some(input)
}

/// `type: array` with its `itemType` (required there, misplaced elsewhere).
fn item_type(cx: &mut Cx, f: &Fields, item: &Node, ipath: &str, kind: InputType) -> InputType {
    if let InputType::Array(_) = kind {
        match f.get("itemType") {
            Some(it) => {
                let itpath = f.path("itemType");
                match input_type(cx, it, &itpath) {
                    Some(InputType::Array(_)) => cx.error(
                        "unknown-input-type",
                        it.loc,
                        &itpath,
                        "arrays of arrays are not supported",
                        "use a scalar itemType such as `text` or `number`",
                    ),
                    Some(t) => return InputType::Array(Box::new(t)),
                    None => {}
                }
            }
            None => cx.error(
                "missing-field",
                item.loc,
                ipath,
                "an `array` input needs `itemType`",
                "add `itemType: text` (or number, Checkbox, RadioSelect, CollectionSelect)",
            ),
        }
    } else if let Some(it) = f.get("itemType") {
        cx.error(
            "misplaced-field",
            it.loc,
            &f.path("itemType"),
            "`itemType` only applies to `type: array`",
            "remove `itemType`, or make the input `type: array`",
        );
    }
    kind
}

/// `minimum`, `maximum` and `step`, with `minimum <= maximum` checked.
fn bounds(cx: &mut Cx, f: &Fields, item: &Node) -> (Option<f64>, Option<f64>, Option<f64>) {
    let number = |cx: &mut Cx, k: &str| -> Option<f64> {
        let n = f.get(k)?;
        match n.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(x) => Some(x),
            _ => {
                cx.type_error(n, &f.path(k), "a number");
                None
            }
        }
    };
    let minimum = number(cx, "minimum");
    let maximum = number(cx, "maximum");
    let step = number(cx, "step");
    if let (Some(lo), Some(hi)) = (minimum, maximum) {
        if lo > hi {
            let loc = f.get("maximum").map(|n| n.loc).unwrap_or(item.loc);
            cx.error(
                "invalid-range",
                loc,
                &f.path("maximum"),
                format!("maximum {hi} is below minimum {lo}"),
                "make `maximum` at least `minimum`",
            );
        }
    }
    (minimum, maximum, step)
}

/// `options:` of a RadioSelect: plain values or `{value, label, helpText}`.
fn options(cx: &mut Cx, f: &Fields) -> Vec<Choice> {
    let mut options = Vec::new();
    let Some(o) = f.get("options") else {
        return options;
    };
    let opath = f.path("options");
    let Value::Seq(items) = &o.value else {
        cx.type_error(o, &opath, "a list of options");
        return options;
    };
    for (j, it) in items.iter().enumerate() {
        let jpath = index(&opath, j);
        if !matches!(it.value, Value::Map(_)) {
            options.push(Choice {
                value: it.to_json(),
                label: None,
                help_text: None,
            });
            continue;
        }
        let Some(of) = cx.fields(it, &jpath, &["value", "label", "helpText"]) else {
            continue;
        };
        if let Some(v) = cx.required(&of, "value", "the option's value") {
            let label = of
                .get("label")
                .and_then(|n| cx.scalar(n, &of.path("label")));
            let help_text = of
                .get("helpText")
                .and_then(|n| cx.scalar(n, &of.path("helpText")));
            options.push(Choice {
                value: v.to_json(),
                label,
                help_text,
            });
        }
    }
    options
}

/// `collection:` of a CollectionSelect (required there, misplaced elsewhere).
fn collection_field(
    cx: &mut Cx,
    f: &Fields,
    item: &Node,
    ipath: &str,
    id: &str,
    kind: &InputType,
) -> Option<CollectionFilter> {
    let collection_needed = matches!(kind, InputType::CollectionSelect)
        || matches!(kind, InputType::Array(t) if **t == InputType::CollectionSelect);
    match f.get("collection") {
        Some(c) if collection_needed => collection(cx, c, &f.path("collection")),
        Some(c) => {
            cx.error(
                "misplaced-field",
                c.loc,
                &f.path("collection"),
                "`collection` only applies to CollectionSelect inputs",
                "remove `collection`, or make the input `type: CollectionSelect`",
            );
            None
        }
        None if collection_needed => {
            cx.error(
                "missing-field",
                item.loc,
                ipath,
                format!("CollectionSelect input `{id}` has no `collection`"),
                "add `collection: { DeploymentResources: { filters: { type: <key> } } }` (or `collection: <key>`)",
            );
            None
        }
        None => None,
    }
}

/// `showIfAll:` conditions, each naming an input declared earlier.
fn show_if_all(cx: &mut Cx, f: &Fields, earlier: &[Input]) -> Vec<Condition> {
    let mut show_if_all = Vec::new();
    let Some(s) = f.get("showIfAll") else {
        return show_if_all;
    };
    let spath = f.path("showIfAll");
    let Value::Seq(conds) = &s.value else {
        cx.type_error(s, &spath, "a list of `{field, value}` conditions");
        return show_if_all;
    };
    for (j, c) in conds.iter().enumerate() {
        let cpath = index(&spath, j);
        let Some(cf) = cx.fields(c, &cpath, &["field", "value"]) else {
            continue;
        };
        let field = cx
            .required(&cf, "field", "the id of another input")
            .and_then(|n| cx.string(n, &cf.path("field")));
        let value = cx
            .required(&cf, "value", "the value that field must have")
            .map(|n| n.to_json());
        let (Some(field), Some(value)) = (field, value) else {
            continue;
        };
        if !earlier.iter().any(|x| x.id == field) {
            let loc = cf.get("field").map(|n| n.loc).unwrap_or(c.loc);
            let help =
                match crate::diagnostics::suggest(&field, earlier.iter().map(|x| x.id.as_str())) {
                    Some(s) => format!(
                        "did you mean `{s}`? showIfAll names an input declared above this one"
                    ),
                    None => "showIfAll names an input declared above this one".into(),
                };
            cx.error(
                "unknown-input",
                loc,
                &cf.path("field"),
                format!("showIfAll names unknown input `{field}`"),
                help,
            );
        }
        show_if_all.push(Condition { field, value });
    }
    show_if_all
}

/// `initialValue:`, checked against the input it belongs to.
fn initial_value(cx: &mut Cx, f: &Fields, input: &mut Input) {
    let Some(iv) = f.get("initialValue") else {
        return;
    };
    let value = iv.to_json();
    if let Err(problem) = super::instances::check_value(input, &value) {
        cx.error(
            "invalid-value",
            iv.loc,
            &f.path("initialValue"),
            format!("initialValue of `{}` {problem}", input.id),
            super::instances::expected(input, &input.kind),
        );
    }
    input.initial_value = Some(value);
}

/// `collection:` in the seed's form, the short `{deployment, type}` form, or
/// a bare type key (`shop` or `storefront/shop`).
fn collection(cx: &mut Cx, node: &Node, path: &str) -> Option<CollectionFilter> {
    if let Value::Str { text, .. } = &node.value {
        return Some(match text.split_once('/') {
            Some((d, k)) => CollectionFilter {
                deployment: Some(d.to_string()),
                key: k.to_string(),
            },
            None => CollectionFilter {
                deployment: None,
                key: text.clone(),
            },
        });
    }
    let f = cx.fields(node, path, &["DeploymentResources", "deployment", "type"])?;
    if let Some(dr) = f.get("DeploymentResources") {
        let dpath = f.path("DeploymentResources");
        let df = cx.fields(dr, &dpath, &["filters"])?;
        let filters = cx.required(&df, "filters", "`{ type: <resource type key> }`")?;
        let fpath = df.path("filters");
        let ff = cx.fields(filters, &fpath, &["type", "deployment"])?;
        let key = cx
            .required(&ff, "type", "the resource type key")
            .and_then(|n| cx.string(n, &ff.path("type")))?;
        let deployment = ff
            .get("deployment")
            .and_then(|n| cx.string(n, &ff.path("deployment")));
        return Some(CollectionFilter { deployment, key });
    }
    let key = cx
        .required(&f, "type", "the resource type key")
        .and_then(|n| cx.string(n, &f.path("type")))?;
    let deployment = f
        .get("deployment")
        .and_then(|n| cx.string(n, &f.path("deployment")));
    Some(CollectionFilter { deployment, key })
}

fn decode_outputs(cx: &mut Cx, node: &Node, path: &str, inputs: &[Input]) -> Vec<OutputValue> {
    let mut out = Vec::new();
    let Some(f) = cx.fields(node, path, OUTPUTS) else {
        return out;
    };
    if let Some(sec) = f.get("secrets") {
        let loc = f.key_loc("secrets").unwrap_or(sec.loc);
        cx.error(
            "secrets-not-applicable",
            loc,
            &f.path("secrets"),
            "`outputs.secrets` does not apply to resource types",
            "remove `secrets`: a resource type's outputs are stored as properties (use `outputs.values`)",
        );
    }
    let Some(values) = f.get("values") else {
        return out;
    };
    let vpath = f.path("values");
    let Value::Seq(items) = &values.value else {
        cx.type_error(values, &vpath, "a list of `{path, value}` entries");
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        let ipath = index(&vpath, i);
        let Some(of) = cx.fields(item, &ipath, OUTPUT_VALUE) else {
            continue;
        };
        let path_tokens = cx
            .required(&of, "path", "a list of keys, e.g. `[shop, name]`")
            .and_then(|n| output_path(cx, n, &of.path("path")));
        let source = cx
            .required(
                &of,
                "value",
                "`FieldValue: {input: <id>}` or `FieldProperty: {input: <id>, property: <name>}`",
            )
            .and_then(|n| output_source(cx, n, &of.path("value"), inputs));
        if let (Some(path), Some(value)) = (path_tokens, source) {
            out.push(OutputValue { path, value });
        }
    }
    out
}

fn output_path(cx: &mut Cx, node: &Node, path: &str) -> Option<Vec<PathToken>> {
    let Value::Seq(items) = &node.value else {
        cx.type_error(node, path, "a list of path tokens, e.g. `[shop, name]`");
        return None;
    };
    let mut tokens = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let tpath = index(path, i);
        let token = match &it.value {
            Value::Int(n) if *n >= 0 => PathToken::Index(*n as usize),
            Value::Str { text, .. } => {
                match text.as_str() {
                    "[+]" => PathToken::Append,
                    "[=]" => PathToken::Last,
                    t if t.starts_with('[') && t.ends_with(']') => {
                        match t[1..t.len() - 1].parse::<usize>() {
                            Ok(n) => PathToken::Index(n),
                            Err(_) => {
                                cx.error("invalid-path", it.loc, &tpath, format!("unknown path token `{t}`"), "use a key, `[N]` (index), `[+]` (append) or `[=]` (last element)");
                                return None;
                            }
                        }
                    }
                    t => PathToken::Key(t.to_string()),
                }
            }
            _ => {
                cx.type_error(it, &tpath, "a key, `[N]`, `[+]` or `[=]`");
                return None;
            }
        };
        if matches!(
            token,
            PathToken::Index(_) | PathToken::Append | PathToken::Last
        ) && tokens.is_empty()
        {
            cx.error(
                "invalid-path",
                it.loc,
                &tpath,
                "an output path must start with a key",
                "properties are an object: begin the path with a key, e.g. `[shops, \"[+]\"]`",
            );
            return None;
        }
        tokens.push(token);
    }
    if tokens.is_empty() {
        cx.error(
            "invalid-path",
            node.loc,
            path,
            "an output path cannot be empty",
            "name at least one key, e.g. `[name]`",
        );
        return None;
    }
    Some(tokens)
}

fn output_source(cx: &mut Cx, node: &Node, path: &str, inputs: &[Input]) -> Option<OutputSource> {
    let f = cx.fields(node, path, &["FieldValue", "FieldProperty"])?;
    let (kind, inner) = match (f.get("FieldValue"), f.get("FieldProperty")) {
        (Some(v), None) => ("FieldValue", v),
        (None, Some(p)) => ("FieldProperty", p),
        _ => {
            cx.error("invalid-output", node.loc, path, "an output value is exactly one of `FieldValue` or `FieldProperty`", "write `FieldValue: {input: <id>}` or `FieldProperty: {input: <id>, property: <name>}`");
            return None;
        }
    };
    let ipath = f.path(kind);
    let allowed: &[&str] = if kind == "FieldValue" {
        &["input"]
    } else {
        &["input", "property"]
    };
    let inf = cx.fields(inner, &ipath, allowed)?;
    let input_node = cx.required(&inf, "input", "the id of one of this type's inputs")?;
    let input = cx.string(input_node, &inf.path("input"))?;
    match inputs.iter().find(|i| i.id == input) {
        None => {
            let help =
                match crate::diagnostics::suggest(&input, inputs.iter().map(|i| i.id.as_str())) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                    "declare an input `{input}` under values_ui.inputs, or name an existing one"
                ),
                };
            cx.error(
                "unknown-input",
                input_node.loc,
                &inf.path("input"),
                format!("output reads unknown input `{input}`"),
                help,
            );
            None
        }
        Some(i) if kind == "FieldProperty" && i.kind != InputType::CollectionSelect => {
            cx.error(
                "invalid-output",
                input_node.loc,
                &inf.path("input"),
                format!("FieldProperty reads input `{input}`, which is {} rather than a CollectionSelect", i.kind.name()),
                "use FieldValue for this input, or point FieldProperty at a CollectionSelect input",
            );
            None
        }
        Some(_) if kind == "FieldValue" => Some(OutputSource::FieldValue { input }),
        Some(_) => {
            let property = cx
                .required(
                    &inf,
                    "property",
                    "`id`, `name` or a property of the referenced instance",
                )
                .and_then(|n| cx.string(n, &inf.path("property")))?;
            Some(OutputSource::FieldProperty { input, property })
        }
    }
}

fn lifecycle(cx: &mut Cx, node: &Node, path: &str) -> Lifecycle {
    let mut l = Lifecycle::default();
    let Some(f) = cx.fields(node, path, LIFECYCLE) else {
        return l;
    };
    for op in LIFECYCLE {
        let Some(n) = f.get(op) else { continue };
        let opath = join(path, op);
        let Some(of) = cx.fields(n, &opath, LIFECYCLE_OP) else {
            continue;
        };
        let role = cx
            .required(&of, "allowed_role", "`Owner` or `Maintainer`")
            .and_then(|r| cx.one_of(r, &of.path("allowed_role"), ROLES, "unknown-role", "role"));
        let target = of.get("target").and_then(|t| {
            let tpath = of.path("target");
            let tf = cx.fields(t, &tpath, TARGET)?;
            let endpoint = cx
                .required(&tf, "endpoint", "`standard_ingress`")
                .and_then(|e| {
                    cx.one_of(
                        e,
                        &tf.path("endpoint"),
                        ENDPOINTS,
                        "unknown-endpoint",
                        "endpoint",
                    )
                });
            let hpath = cx
                .required(&tf, "path", "the HTTP path, e.g. `/api/v1/resources/shop`")
                .and_then(|p| cx.string(p, &tf.path("path")));
            if let (Some(p), Some(pn)) = (&hpath, tf.get("path")) {
                if !p.starts_with('/') {
                    cx.error(
                        "invalid-path",
                        pn.loc,
                        &tf.path("path"),
                        format!("hook path `{p}` must start with `/`"),
                        format!("write `/{p}`"),
                    );
                }
            }
            let method = cx
                .required(&tf, "method", "GET, POST, PUT, PATCH or DELETE")
                .and_then(|m| {
                    cx.one_of(
                        m,
                        &tf.path("method"),
                        METHODS,
                        "unknown-method",
                        "HTTP method",
                    )
                });
            Some(HookTarget {
                endpoint: endpoint?,
                path: hpath?,
                method: method?,
            })
        });
        if let Some(allowed_role) = role {
            let op_value = LifecycleOp {
                allowed_role,
                target,
            };
            match *op {
                "create" => l.create = Some(op_value),
                "update" => l.update = Some(op_value),
                _ => l.delete = Some(op_value),
            }
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Diagnostic;
    use crate::yaml::decode::LocIndex;

    fn decoded(text: &str) -> (Vec<ResourceType>, Vec<(&'static str, String)>) {
        let (node, mut diags): (Option<Node>, Vec<Diagnostic>) = crate::yaml::parse(0, text);
        let mut cx = Cx {
            diagnostics: &mut diags,
            locs: LocIndex::default(),
        };
        let types = decode(&mut cx, "shop", &node.expect("valid YAML"));
        (types, diags.into_iter().map(|d| (d.code, d.path)).collect())
    }

    #[test]
    fn a_type_is_checked_whole_even_when_its_key_is_missing() {
        let (types, diags) = decoded(concat!(
            "- apiVersion: platz.io/v2\n",
            "  kind: Thing\n",
            "  spec:\n",
            "    name_singular: Shop\n",
            "    fontawesome_icon: shop\n",
            "    values_ui: {inputs: 3}\n",
        ));
        assert!(types.is_empty());
        assert_eq!(
            diags,
            [
                ("unknown-api-version", "[0].apiVersion".to_string()),
                ("unknown-kind", "[0].kind".to_string()),
                ("missing-field", "[0]".to_string()),
                ("missing-field", "[0].spec".to_string()),
                ("wrong-type", "[0].spec.values_ui.inputs".to_string()),
            ]
        );
    }

    #[test]
    fn a_whole_type_decodes() {
        let (types, diags) = decoded(concat!(
            "- apiVersion: platz.io/v1beta1\n",
            "  kind: ResourceType\n",
            "  key: shop\n",
            "  spec:\n",
            "    name_singular: Shop\n",
            "    name_plural: Shops\n",
            "    fontawesome_icon: shop\n",
            "    global: true\n",
            "    values_ui:\n",
            "      inputs:\n",
            "        - {id: name, type: text, label: Name}\n",
            "      outputs: {values: [{path: [name], value: {FieldValue: {input: name}}}]}\n",
        ));
        assert_eq!(diags, []);
        let t = &types[0];
        assert_eq!(
            (t.owner.as_str(), t.key.as_str(), t.name_plural.as_str()),
            ("shop", "shop", "Shops")
        );
        assert!(t.global);
        assert_eq!(t.inputs.len(), 1);
    }
}
