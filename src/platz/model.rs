//! Platz resource types as plain data: the `values_ui` inputs and outputs,
//! the lifecycle hooks, and the collection filters of `CollectionSelect`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceType {
    /// The owning service (the seed's owning deployment).
    pub owner: String,
    pub key: String,
    pub name_singular: String,
    pub name_plural: String,
    pub fontawesome_icon: String,
    #[serde(default)]
    pub global: bool,
    pub inputs: Vec<Input>,
    pub outputs: Vec<OutputValue>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

impl ResourceType {
    pub fn id(&self) -> String {
        format!("{}/{}", self.owner, self.key)
    }

    pub fn input(&self, id: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.id == id)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: InputType,
    pub label: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_text: Option<String>,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub show_if_all: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<CollectionFilter>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "item", rename_all = "camelCase")]
pub enum InputType {
    Text,
    Number,
    Checkbox,
    RadioSelect,
    DaysAndHour,
    CollectionSelect,
    Array(Box<InputType>),
}

pub const INPUT_TYPES: &[&str] = &[
    "text",
    "number",
    "Checkbox",
    "RadioSelect",
    "DaysAndHour",
    "CollectionSelect",
    "array",
];

impl InputType {
    pub fn name(&self) -> String {
        match self {
            InputType::Text => "text".into(),
            InputType::Number => "number".into(),
            InputType::Checkbox => "Checkbox".into(),
            InputType::RadioSelect => "RadioSelect".into(),
            InputType::DaysAndHour => "DaysAndHour".into(),
            InputType::CollectionSelect => "CollectionSelect".into(),
            InputType::Array(item) => format!("array of {}", item.name()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Choice {
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_text: Option<String>,
}

/// `showIfAll` entry: the input is shown (and required) only when every
/// named field has the given value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub field: String,
    pub value: serde_json::Value,
}

/// Which instances a `CollectionSelect` offers: a type key, optionally
/// limited to one owning service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    #[serde(rename = "type")]
    pub key: String,
}

impl CollectionFilter {
    pub fn matches(&self, owner: &str, key: &str) -> bool {
        self.key == key && self.deployment.as_deref().is_none_or(|d| d == owner)
    }

    pub fn describe(&self) -> String {
        match &self.deployment {
            Some(d) => format!("{d}/{}", self.key),
            None => self.key.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputValue {
    pub path: Vec<PathToken>,
    pub value: OutputSource,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PathToken {
    Key(String),
    /// `[N]`: element N of an array.
    Index(usize),
    /// `[+]`: a new element appended to an array.
    Append,
    /// `[=]`: the last element of an array (the one `[+]` made).
    Last,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutputSource {
    FieldValue { input: String },
    FieldProperty { input: String, property: String },
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<LifecycleOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<LifecycleOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<LifecycleOp>,
}

impl Lifecycle {
    pub fn get(&self, op: &str) -> Option<&LifecycleOp> {
        match op {
            "create" => self.create.as_ref(),
            "update" => self.update.as_ref(),
            "delete" => self.delete.as_ref(),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleOp {
    pub allowed_role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<HookTarget>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookTarget {
    pub endpoint: String,
    pub path: String,
    pub method: String,
}
