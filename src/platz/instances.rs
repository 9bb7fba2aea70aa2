//! Instances of resource types: values checked against the type's inputs
//! (`initialValue` filling gaps), `CollectionSelect` references resolved to
//! other instances, and `outputs.values` evaluated into properties in
//! dependency order.

use super::model::*;
use crate::descriptor::model::InstanceDecl;
use crate::diagnostics::{suggest, Diagnostic};
use crate::graph::Graph;
use crate::support::fields::Fields;
use crate::yaml::decode::LocIndex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// An instance ready to plan: its values, references and properties.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub name: String,
    /// `<owner>/<key>`.
    #[serde(rename = "type")]
    pub type_id: String,
    pub owner: String,
    pub key: String,
    pub global: bool,
    pub values: Fields,
    /// Instances named by `CollectionSelect` values, sorted, each once (a
    /// vector: a set's smallest node is ten times the size of one name, for
    /// each of 10,000 instances, docs/benchmarks.md).
    pub references: Vec<String>,
    pub properties: Fields,
    /// Input ids whose values are sensitive (masked in plans).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive_inputs: BTreeSet<String>,
}

const DAYS: &[&str] = &[
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Checks one value against an input's type and bounds (not references).
pub fn check_value(input: &Input, value: &Value) -> Result<(), String> {
    check_kind(input, &input.kind, value)
}

fn check_kind(input: &Input, kind: &InputType, value: &Value) -> Result<(), String> {
    match kind {
        InputType::Text => value
            .as_str()
            .map(|_| ())
            .ok_or_else(|| format!("must be text, found {}", describe(value))),
        InputType::Number => {
            let n = value
                .as_f64()
                .ok_or_else(|| format!("must be a number, found {}", describe(value)))?;
            if let Some(min) = input.minimum {
                if n < min {
                    return Err(format!("is {n}, below the minimum {min}"));
                }
            }
            if let Some(max) = input.maximum {
                if n > max {
                    return Err(format!("is {n}, above the maximum {max}"));
                }
            }
            Ok(())
        }
        InputType::Checkbox => value
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| format!("must be true or false, found {}", describe(value))),
        InputType::RadioSelect => {
            if input.options.iter().any(|o| &o.value == value) {
                Ok(())
            } else {
                let opts: Vec<String> = input.options.iter().map(|o| o.value.to_string()).collect();
                Err(format!(
                    "is {value}, which is not one of the options ({})",
                    opts.join(", ")
                ))
            }
        }
        InputType::DaysAndHour => {
            let obj = value.as_object().ok_or_else(|| {
                format!(
                    "must be `{{days: [mon, ...], hour: 0-23}}`, found {}",
                    describe(value)
                )
            })?;
            if let Some(k) = obj.keys().find(|k| *k != "days" && *k != "hour") {
                return Err(format!(
                    "has unknown field `{k}` (DaysAndHour takes `days` and `hour`)"
                ));
            }
            let days = obj
                .get("days")
                .and_then(Value::as_array)
                .ok_or("needs `days`, a list of weekdays")?;
            for d in days {
                let ok = d
                    .as_str()
                    .is_some_and(|s| DAYS.contains(&s.to_ascii_lowercase().as_str()));
                if !ok {
                    return Err(format!(
                        "has day {d}, which is not a weekday (mon, tue, wed, thu, fri, sat, sun)"
                    ));
                }
            }
            let hour = obj
                .get("hour")
                .and_then(Value::as_u64)
                .ok_or("needs `hour`, a whole number from 0 to 23")?;
            if hour > 23 {
                return Err(format!("has hour {hour}, above 23"));
            }
            Ok(())
        }
        InputType::CollectionSelect => value
            .as_str()
            .map(|_| ())
            .ok_or_else(|| format!("must name another instance, found {}", describe(value))),
        InputType::Array(item) => {
            let items = value
                .as_array()
                .ok_or_else(|| format!("must be a list, found {}", describe(value)))?;
            for (i, v) in items.iter().enumerate() {
                check_kind(input, item, v).map_err(|e| format!("item {i} {e}"))?;
            }
            Ok(())
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text \"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn visible(input: &Input, values: &Fields) -> bool {
    input
        .show_if_all
        .iter()
        .all(|c| values.get(&c.field) == Some(&c.value))
}

/// Where an instance value was written, for diagnostics.
fn loc_of(locs: &LocIndex, path: &str) -> Option<crate::diagnostics::Loc> {
    locs.nearest(path)
}

/// Resolves every declared instance. `types` is keyed by `<owner>/<key>`.
/// `external` holds instances from elsewhere (the project-wide state of
/// global types) that `CollectionSelect` values may also name. The
/// declarations' values move into the instances (a copy of them was a
/// tenth of the peak memory of planning 10,000 instances,
/// docs/benchmarks.md).
pub fn resolve(
    mut decls: BTreeMap<String, InstanceDecl>,
    types: &BTreeMap<String, ResourceType>,
    external: &BTreeMap<String, Instance>,
    locs: &LocIndex,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Instance> {
    // The values leave the declarations, which keep their names and types
    // for the references of other instances.
    let values: Vec<Fields> = decls
        .values_mut()
        .map(|d| std::mem::take(&mut d.values))
        .collect();
    let mut r = Resolver {
        decls: &decls,
        types,
        external,
        locs,
        diagnostics,
    };
    // 1. Types and values.
    // Collected, not inserted one by one: `decls` is sorted, so the map is
    // built in bulk (ordered inserts were 2 % of planning 10,000 instances).
    let mut resolved: BTreeMap<String, Instance> = decls
        .iter()
        .zip(values)
        .filter_map(|((name, decl), values)| Some((name.clone(), r.instance(name, decl, values)?)))
        .collect();
    // 2. Order by references; name every member of a cycle.
    let order = r.order(&resolved);
    // 3. Properties, dependencies first.
    for name in order {
        let Some(inst) = resolved.get(&name) else {
            continue;
        };
        let props = properties(&types[&inst.type_id], inst, &resolved, external);
        if let (Some(inst), Value::Object(p)) = (resolved.get_mut(&name), props) {
            inst.properties = p.into();
        }
    }
    resolved
}

/// What resolving needs at every step, and where its problems go.
struct Resolver<'a> {
    decls: &'a BTreeMap<String, InstanceDecl>,
    types: &'a BTreeMap<String, ResourceType>,
    external: &'a BTreeMap<String, Instance>,
    locs: &'a LocIndex,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Resolver<'_> {
    /// Reports at `path`; `at_value`: point at the value written there
    /// rather than its key.
    fn err_at(
        &mut self,
        path: &str,
        at_value: bool,
        code: &'static str,
        message: String,
        help: String,
    ) {
        // A value on the key's line; a block mapping or list below its key
        // is pointed at by the key.
        let key = self.locs.key(path);
        let value = self.locs.value(path);
        let loc = if at_value && value.map(|v| v.line) == key.map(|k| k.line) {
            value.or_else(|| loc_of(self.locs, path))
        } else {
            loc_of(self.locs, path)
        };
        self.diagnostics
            .push(Diagnostic::error(code, loc, path, message).with_help(help));
    }

    /// One declared instance with its values checked; `None` (after a
    /// diagnostic) when its type is unknown.
    fn instance(&mut self, name: &str, decl: &InstanceDecl, values: Fields) -> Option<Instance> {
        // Paths (`instances.NAME…`) are built only for a diagnostic: one
        // per instance was a tenth of resolving 10,000 (docs/benchmarks.md).
        let types = self.types;
        // Types are keyed by their id: the key is the instance's type id.
        let Some((type_id, t)) = types.get_key_value(&decl.type_ref) else {
            self.unknown_type(name, decl);
            return None;
        };
        let values = self.known_values(values, t, name);
        let mut references = BTreeSet::new();
        for input in &t.inputs {
            self.check_input(name, input, &values, &mut references);
        }
        let sensitive_inputs = t
            .inputs
            .iter()
            .filter(|i| i.sensitive)
            .map(|i| i.id.clone())
            .collect();
        Some(Instance {
            name: name.to_string(),
            type_id: type_id.clone(),
            owner: t.owner.clone(),
            key: t.key.clone(),
            global: t.global,
            values,
            references: references.into_iter().collect(),
            properties: Fields::default(),
            sensitive_inputs,
        })
    }

    fn unknown_type(&mut self, name: &str, decl: &InstanceDecl) {
        let types = self.types;
        let tpath = format!("instances.{name}.type");
        let help = match suggest(&decl.type_ref, types.keys().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`? types are named `<owning service>/<key>`"),
            None if types.is_empty() => {
                "no service declares resource types: add `<service path>/platz/resources.yaml`"
                    .to_string()
            }
            None => format!(
                "types are named `<owning service>/<key>`; declared: {}",
                types.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        self.err_at(
            &tpath,
            true,
            "unknown-type",
            format!("instance `{name}` has unknown type `{}`", decl.type_ref),
            help,
        );
    }

    /// The declared values that name inputs of `t` (others reported), with
    /// `initialValue`s filling the gaps.
    fn known_values(&mut self, mut values: Fields, t: &ResourceType, name: &str) -> Fields {
        for id in values.keys() {
            if t.input(id).is_none() {
                let help = match suggest(id, t.inputs.iter().map(|i| i.id.as_str())) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "the inputs of `{}` are: {}",
                        t.id(),
                        t.inputs
                            .iter()
                            .map(|i| i.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.err_at(
                    &format!("instances.{name}.values.{id}"),
                    false,
                    "unknown-input",
                    format!("`{id}` is not an input of type `{}`", t.id()),
                    help,
                );
            }
        }
        values.retain(|id, _| t.input(id).is_some());
        for input in &t.inputs {
            if !values.contains_key(&input.id) {
                if let Some(iv) = &input.initial_value {
                    values.insert(input.id.clone(), iv.clone());
                }
            }
        }
        values
    }

    /// One input of an instance: present when required and shown, valid,
    /// and its `CollectionSelect` names added to `references`.
    fn check_input(
        &mut self,
        name: &str,
        input: &Input,
        values: &Fields,
        references: &mut BTreeSet<String>,
    ) {
        // Built only for a diagnostic: a path per input of every instance
        // was 3 % of planning 10,000 instances (docs/benchmarks.md).
        let vpath = || format!("instances.{name}.values.{}", input.id);
        let shown = visible(input, values);
        match values.get(&input.id) {
            None if input.required && shown => {
                let base = format!("instances.{name}");
                let path = if decl_has_values(self.locs, &base) {
                    format!("{base}.values")
                } else {
                    base
                };
                self.err_at(
                    &path,
                    false,
                    "missing-value",
                    format!(
                        "instance `{name}` is missing the required value `{}` ({})",
                        input.id, input.label
                    ),
                    format!("add `{}:` under instances.{name}.values", input.id),
                );
            }
            None => {}
            Some(v) => {
                if let Err(problem) = check_value(input, v) {
                    self.err_at(
                        &vpath(),
                        true,
                        "invalid-value",
                        format!("value `{}` of instance `{name}` {problem}", input.id),
                        expected(input, &input.kind),
                    );
                    return;
                }
                if let Some(filter) = &input.collection {
                    self.collection_references(name, &vpath, input, filter, v, references);
                }
            }
        }
    }

    /// The instances a `CollectionSelect` value names, each checked to
    /// exist (declared or external) and to be of a type the filter allows.
    fn collection_references(
        &mut self,
        name: &str,
        vpath: &dyn Fn() -> String,
        input: &Input,
        filter: &CollectionFilter,
        v: &Value,
        references: &mut BTreeSet<String>,
    ) {
        let names: Vec<&str> = match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        // Borrowed for the resolver's lifetime, not through `self`: no copy
        // of the owner and key per reference.
        let (decls, types, external) = (self.decls, self.types, self.external);
        for target in names {
            let found = decls
                .get(target)
                .and_then(|d| types.get(&d.type_ref))
                .map(|tt| (tt.owner.as_str(), tt.key.as_str(), tt.global))
                .or_else(|| {
                    external
                        .get(target)
                        .map(|e| (e.owner.as_str(), e.key.as_str(), e.global))
                });
            match found {
                None => {
                    let candidates = self.decls.keys().chain(self.external.keys()).map(String::as_str);
                    let help = match suggest(target, candidates) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("declare an instance `{target}` of type `{}` under instances", filter.describe()),
                    };
                    self.err_at(&vpath(), true, "unknown-instance", format!("`{}` of instance `{name}` names unknown instance `{target}`", input.id), help);
                }
                Some((owner, key, _)) if !filter.matches(owner, key) => self.err_at(
                    &vpath(),
                    true,
                    "wrong-instance-type",
                    format!("`{}` of instance `{name}` names `{target}`, which is a `{owner}/{key}`, not a `{}`", input.id, filter.describe()),
                    format!("name an instance of type `{}`", filter.describe()),
                ),
                Some(_) => {
                    references.insert(target.to_string());
                }
            }
        }
    }

    /// The instances in dependency order. Every cycle is reported and its
    /// members left out (they get no properties).
    fn order(&mut self, resolved: &BTreeMap<String, Instance>) -> Vec<String> {
        let cycles = match reference_order(resolved, &BTreeSet::new()) {
            Ok(order) => return order,
            Err(cycles) => cycles,
        };
        for members in &cycles {
            self.report_cycle(members, resolved);
        }
        let in_cycle: BTreeSet<&String> = cycles.iter().flatten().collect();
        reference_order(resolved, &in_cycle).unwrap_or_default()
    }

    fn report_cycle(&mut self, members: &[String], resolved: &BTreeMap<String, Instance>) {
        let path_names = cycle_path(members, resolved);
        let first = &path_names[0];
        let next = path_names.get(1).unwrap_or(first);
        // Point at the value of `first` that names `next`.
        let input = self
            .types
            .get(&resolved[first].type_id)
            .and_then(|t| {
                t.inputs.iter().find(|i| {
                    i.collection.is_some()
                        && match resolved[first].values.get(&i.id) {
                            Some(Value::String(s)) => s == next,
                            Some(Value::Array(items)) => {
                                items.iter().any(|v| v.as_str() == Some(next))
                            }
                            _ => false,
                        }
                })
            })
            .map(|i| i.id.clone());
        let path = match &input {
            Some(id) => format!("instances.{first}.values.{id}"),
            None => format!("instances.{first}"),
        };
        let loc = self.locs.value(&path).or_else(|| loc_of(self.locs, &path));
        let mut chain = path_names.clone();
        chain.push(first.clone());
        let named = members.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>();
        let named = match named.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => named.join(""),
        };
        self.diagnostics.push(
            Diagnostic::error(
                "instance-cycle",
                loc,
                &path,
                format!(
                    "instances {named} reference each other in a cycle: {}",
                    chain.join(" → ")
                ),
            )
            .with_help(format!(
                "CollectionSelect references must not loop (each instance is created after the ones it names): remove or change one of these references, e.g. {path}"
            )),
        );
    }
}

/// The instances outside `skip` ordered by their references, or the cycles
/// among them.
fn reference_order(
    resolved: &BTreeMap<String, Instance>,
    skip: &BTreeSet<&String>,
) -> Result<Vec<String>, Vec<Vec<String>>> {
    let mut graph = Graph::new();
    for (name, inst) in resolved {
        if skip.contains(name) {
            continue;
        }
        graph.add_node(name);
        for r in &inst.references {
            if resolved.contains_key(r) && !skip.contains(r) {
                graph.add_dependency(name, r);
            }
        }
    }
    graph.topological_order()
}

/// The properties of `inst`: its type's `outputs.values` evaluated over
/// its values and the properties of the instances it names.
fn properties(
    t: &ResourceType,
    inst: &Instance,
    resolved: &BTreeMap<String, Instance>,
    external: &BTreeMap<String, Instance>,
) -> Value {
    let mut props = Value::Object(Map::new());
    for out in &t.outputs {
        let value = match &out.value {
            OutputSource::FieldValue { input } => inst.values.get(input).cloned(),
            OutputSource::FieldProperty { input, property } => {
                inst.values.get(input).and_then(|v| match v {
                    Value::String(target) => read_property(target, property, resolved, external),
                    Value::Array(items) => Some(Value::Array(
                        items
                            .iter()
                            .filter_map(|i| i.as_str())
                            .map(|target| {
                                read_property(target, property, resolved, external)
                                    .unwrap_or(Value::Null)
                            })
                            .collect(),
                    )),
                    _ => None,
                })
            }
        };
        if let Some(v) = value {
            set_path(&mut props, &out.path, v);
        }
    }
    props
}

fn decl_has_values(locs: &LocIndex, base: &str) -> bool {
    locs.key(&format!("{base}.values")).is_some()
}

/// A cycle through every member when one is easy to find, else some cycle
/// from the first member: following references in name order.
fn cycle_path(members: &[String], resolved: &BTreeMap<String, Instance>) -> Vec<String> {
    let set: BTreeSet<&str> = members.iter().map(String::as_str).collect();
    let start = members[0].as_str();
    let refs = |n: &str| -> Vec<&str> {
        resolved
            .get(n)
            .map(|i| {
                i.references
                    .iter()
                    .map(String::as_str)
                    .filter(|r| set.contains(r))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Depth-first search for the longest simple path that returns to start.
    let mut best: Vec<&str> = vec![start];
    let mut path = vec![start];
    let mut stack: Vec<Vec<&str>> = vec![refs(start)];
    let mut steps = 0usize;
    while let Some(frontier) = stack.last_mut() {
        steps += 1;
        if steps > 10_000 {
            break;
        }
        match frontier.pop() {
            Some(n) if n == start => {
                if path.len() > best.len() || best.len() == 1 {
                    best = path.clone();
                }
                if best.len() == members.len() {
                    break;
                }
            }
            Some(n) if !path.contains(&n) => {
                path.push(n);
                let mut next = refs(n);
                next.reverse();
                stack.push(next);
            }
            Some(_) => {}
            None => {
                stack.pop();
                path.pop();
            }
        }
    }
    best.into_iter().map(str::to_string).collect()
}

/// How to write a valid value for an input.
pub fn expected(input: &Input, kind: &InputType) -> String {
    match kind {
        InputType::Text => "write a text value".into(),
        InputType::Number => match (input.minimum, input.maximum) {
            (Some(lo), Some(hi)) => format!("write a number from {lo} to {hi}"),
            (Some(lo), None) => format!("write a number of at least {lo}"),
            (None, Some(hi)) => format!("write a number of at most {hi}"),
            (None, None) => "write a number".into(),
        },
        InputType::Checkbox => "write `true` or `false`".into(),
        InputType::RadioSelect => format!(
            "write one of the options: {}",
            input
                .options
                .iter()
                .map(|o| match &o.value {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        InputType::DaysAndHour => {
            "write `{days: [mon, wed, fri], hour: 6}`: days from mon, tue, wed, thu, fri, sat, sun and an hour from 0 to 23 (UTC)".into()
        }
        InputType::CollectionSelect => match &input.collection {
            Some(f) => format!("write the name of an instance of type `{}`", f.describe()),
            None => "write the name of another instance".into(),
        },
        InputType::Array(item) => format!("write a list; for each item: {}", expected(input, item)),
    }
}

/// `id`, `name`, or a stored property of the referenced instance.
fn read_property(
    target: &str,
    property: &str,
    resolved: &BTreeMap<String, Instance>,
    external: &BTreeMap<String, Instance>,
) -> Option<Value> {
    let inst = resolved.get(target).or_else(|| external.get(target))?;
    if let Some(v) = inst.properties.get(property) {
        return Some(v.clone());
    }
    match property {
        "id" | "name" => Some(Value::String(inst.name.clone())),
        _ => None,
    }
}

/// Writes `value` at `path` inside `root`, creating objects and arrays.
pub fn set_path(root: &mut Value, path: &[PathToken], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *root = value;
        return;
    };
    let slot: &mut Value = match first {
        PathToken::Key(k) => {
            if !root.is_object() {
                *root = Value::Object(Map::new());
            }
            root.as_object_mut()
                .expect("object")
                .entry(k.clone())
                .or_insert(Value::Null)
        }
        PathToken::Index(i) => {
            if !root.is_array() {
                *root = Value::Array(Vec::new());
            }
            let arr = root.as_array_mut().expect("array");
            while arr.len() <= *i {
                arr.push(Value::Null);
            }
            &mut arr[*i]
        }
        PathToken::Append => {
            if !root.is_array() {
                *root = Value::Array(Vec::new());
            }
            let arr = root.as_array_mut().expect("array");
            arr.push(Value::Null);
            arr.last_mut().expect("pushed")
        }
        PathToken::Last => {
            if !root.is_array() {
                *root = Value::Array(Vec::new());
            }
            let arr = root.as_array_mut().expect("array");
            if arr.is_empty() {
                arr.push(Value::Null);
            }
            arr.last_mut().expect("non-empty")
        }
    };
    set_path(slot, rest, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_path_handles_keys_indexes_append_and_last() {
        let mut root = json!({});
        set_path(
            &mut root,
            &[PathToken::Key("shop".into()), PathToken::Key("name".into())],
            json!("Downtown"),
        );
        set_path(
            &mut root,
            &[
                PathToken::Key("tags".into()),
                PathToken::Append,
                PathToken::Key("k".into()),
            ],
            json!(1),
        );
        set_path(
            &mut root,
            &[
                PathToken::Key("tags".into()),
                PathToken::Last,
                PathToken::Key("v".into()),
            ],
            json!(2),
        );
        set_path(
            &mut root,
            &[PathToken::Key("list".into()), PathToken::Index(1)],
            json!("b"),
        );
        assert_eq!(
            root,
            json!({"shop": {"name": "Downtown"}, "tags": [{"k": 1, "v": 2}], "list": [null, "b"]})
        );
    }
}

/// The form in which state files keep an instance: the values of sensitive
/// inputs, and every property leaf equal to one of them, replaced by a
/// salted, slow hash of the value (`support::digest::secret_hash`,
/// argon2id). A value that `prior` (the stored values of the instance's
/// applied record) already holds under a hash that verifies keeps that
/// hash, so an unchanged secret compares equal without the key, and no
/// plaintext secret is written to the state.
pub fn stored_form(
    values: &Fields,
    properties: &Fields,
    sensitive_inputs: &BTreeSet<String>,
    prior: Option<&Map<String, Value>>,
) -> (Map<String, Value>, Map<String, Value>) {
    use crate::support::digest::{secret_hash, secret_matches};
    let mut vals = values.to_map();
    // Each secret value with its stored hash.
    let mut secrets: Vec<(&Value, Value)> = Vec::new();
    for id in sensitive_inputs {
        let Some(v) = values.get(id).filter(|v| !v.is_null()) else {
            continue;
        };
        let canonical = v.to_string();
        let kept = prior
            .and_then(|p| p.get(id))
            .and_then(Value::as_str)
            .filter(|h| secret_matches(&canonical, h));
        let stored = Value::String(kept.map_or_else(|| secret_hash(&canonical), str::to_string));
        vals.insert(id.clone(), stored.clone());
        secrets.push((v, stored));
    }
    if secrets.is_empty() {
        return (vals, properties.to_map());
    }
    fn walk(v: &mut Value, secrets: &[(&Value, Value)]) {
        if let Some((_, stored)) = secrets.iter().find(|(s, _)| *s == &*v) {
            *v = stored.clone();
            return;
        }
        match v {
            Value::Object(m) => m.values_mut().for_each(|x| walk(x, secrets)),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, secrets)),
            _ => {}
        }
    }
    let mut props = Value::Object(properties.to_map());
    walk(&mut props, &secrets);
    let Value::Object(props) = props else {
        unreachable!("an object stays an object")
    };
    (vals, props)
}

#[cfg(test)]
mod stored_form_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_values_and_the_properties_made_from_them_are_hashed() {
        let values = Fields::from(
            json!({"url": "https://x", "secret": "hunter2"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let props = Fields::from(
            json!({"url": "https://x", "auth": {"token": "hunter2"}})
                .as_object()
                .unwrap()
                .clone(),
        );
        let sensitive = BTreeSet::from(["secret".to_string()]);
        let (v, p) = stored_form(&values, &props, &sensitive, None);
        let text = format!("{v:?}{p:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(v["url"], "https://x");
        assert_eq!(v["secret"], p["auth"]["token"]);
        assert!(v["secret"].as_str().unwrap().starts_with("$argon2id$"));
        // Salted: a fresh hash differs; against its prior record, an
        // unchanged secret keeps its hash and a changed one gets a new one.
        let (fresh, _) = stored_form(&values, &props, &sensitive, None);
        assert_ne!(fresh["secret"], v["secret"]);
        assert_eq!(
            stored_form(&values, &props, &sensitive, Some(&v)),
            (v.clone(), p.clone())
        );
        let mut changed = values.clone();
        changed.insert("secret".into(), json!("hunter3"));
        let (c, _) = stored_form(&changed, &props, &sensitive, Some(&v));
        assert_ne!(c["secret"], v["secret"]);
    }
}
