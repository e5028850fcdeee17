//! The values expressions compute with: the Java objects IG's EL sees (String, Long, Double,
//! Boolean, List, Map, null), reduced to one cheap-to-clone enum.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use super::EvalError;
use super::coerce;
use super::java_format;

/// An expression value. Cloning is cheap: strings, lists and maps are shared behind `Arc`.
#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    /// A Java `long` (EL's integer type).
    Int(i64),
    /// A Java `double` (EL's floating-point type).
    Float(f64),
    Str(Arc<str>),
    List(Arc<Vec<Value>>),
    /// Insertion-ordered, like the `LinkedHashMap`s IG builds from JSON.
    Map(Arc<IndexMap<String, Value>>),
}

impl Value {
    /// The EL/Java name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "decimal",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// EL's `empty` operator: true for null, "", and empty lists and maps.
    pub fn is_empty_el(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Str(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Map(m) => m.is_empty(),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&IndexMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// EL's coercion to String (JSR-245 1.18.2): null is "", everything else is its Java
    /// `toString()`. Borrows when the value already is a string.
    pub fn to_el_string(&self) -> Cow<'_, str> {
        match self {
            Value::Null => Cow::Borrowed(""),
            Value::Str(s) => Cow::Borrowed(s),
            Value::Bool(true) => Cow::Borrowed("true"),
            Value::Bool(false) => Cow::Borrowed("false"),
            other => Cow::Owned(other.to_string()),
        }
    }

    /// Resolves `self[key]` / `self.key` the way JUEL's standard resolvers do for a value that
    /// is already in hand: maps by key, lists by index (out of range is null, not an error),
    /// null stays null. Strings expose only Java's `empty` bean property; other scalars have
    /// no properties.
    pub fn property(&self, key: &Value) -> Result<Value, EvalError> {
        match self {
            Value::Null => Ok(Value::Null),
            Value::Map(map) => Ok(map
                .get(key.to_el_string().as_ref())
                .cloned()
                .unwrap_or_default()),
            Value::List(list) => {
                let index = list_index(key)?;
                Ok(usize::try_from(index)
                    .ok()
                    .and_then(|i| list.get(i))
                    .cloned()
                    .unwrap_or_default())
            }
            Value::Str(s) if key.as_str() == Some("empty") => Ok(Value::Bool(s.is_empty())),
            Value::Str(_) | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                Err(EvalError::PropertyNotFound {
                    receiver: self.type_name(),
                    property: key.to_el_string().into_owned(),
                })
            }
        }
    }

    /// Java's `Object.equals`: same type and same content, no EL coercion (`1` and `1.0` and
    /// `"1"` all differ). Used where IG calls Java collections directly (`contains`,
    /// `List.indexOf`, `String.equals`).
    pub fn java_equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            // Double.equals compares bit patterns: NaN equals NaN, 0.0 differs from -0.0.
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.java_equals(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get(k).is_some_and(|w| v.java_equals(w)))
            }
            _ => false,
        }
    }

    /// Converts JSON (e.g. a parsed request entity or a route's `properties`) into a value.
    /// Integers that do not fit a Java long become decimals.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(Arc::from(s.as_str())),
            serde_json::Value::Array(items) => {
                Value::List(Arc::new(items.iter().map(Value::from_json).collect()))
            }
            serde_json::Value::Object(fields) => Value::Map(Arc::new(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            )),
        }
    }

    /// Converts to JSON. Non-finite decimals have no JSON form and become null.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Map(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Java `toString()` of an element inside a collection, where null prints as "null".
    fn fmt_nested(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            other => fmt::Display::fmt(other, f),
        }
    }
}

/// JUEL's ListELResolver index coercion: numbers truncate, numeric strings parse, booleans
/// are 1/0; anything else is an error.
pub(crate) fn list_index(key: &Value) -> Result<i64, EvalError> {
    match key {
        Value::Int(i) => Ok(*i),
        Value::Float(f) => Ok(*f as i64),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Str(s) => java_format::parse_long(s).ok_or_else(|| EvalError::Coercion {
            value: coerce::describe(key),
            target: "a list index",
        }),
        Value::Null | Value::List(_) | Value::Map(_) => Err(EvalError::Coercion {
            value: coerce::describe(key),
            target: "a list index",
        }),
    }
}

/// Renders as EL coerces to String: null is the empty string, numbers as Java prints them,
/// lists as `[a, b]` and maps as `{k=v, k2=v2}` (Java's collection `toString`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => java_format::write_double(f, *x),
            Value::Str(s) => f.write_str(s),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    item.fmt_nested(f)?;
                }
                f.write_str("]")
            }
            Value::Map(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}=")?;
                    v.fmt_nested(f)?;
                }
                f.write_str("}")
            }
        }
    }
}

/// EL's `==` (JSR-245 1.8.2): `Int(10) == Str("10")` and `Bool(true) == Str("TRUE")` hold.
/// Comparisons that EL would reject with an error (a non-numeric string against a number) are
/// simply unequal here.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        coerce::el_eq(self, other).unwrap_or(false)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<u16> for Value {
    fn from(i: u16) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(Arc::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(Arc::from(s))
    }
}

impl From<Arc<str>> for Value {
    fn from(s: Arc<str>) -> Self {
        Value::Str(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::List(Arc::new(items))
    }
}

impl From<Vec<String>> for Value {
    fn from(items: Vec<String>) -> Self {
        Value::List(Arc::new(items.into_iter().map(Value::from).collect()))
    }
}

impl From<IndexMap<String, Value>> for Value {
    fn from(map: IndexMap<String, Value>) -> Self {
        Value::Map(Arc::new(map))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
