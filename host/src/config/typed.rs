//! Typed decoding of configuration values, with errors that point at the offending key or value
//! and say what to write instead.
//!
//! Decoding goes through a deserializer of our own over `serde_json::Value` rather than
//! serde_json's, for one reason: its error type keeps what serde reports as data (the unknown
//! field and the allowed ones, the value found and the kind expected) instead of a formatted
//! sentence, so messages can be rewritten for IG users without parsing serde's English.
//! serde_path_to_error supplies the path of the failure, which becomes a JSON pointer.

use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, Expected, IntoDeserializer, Unexpected,
    VariantAccess, Visitor,
};
use serde_json::Value;

use super::diagnostic::{
    ConfigError, did_you_mean, join_names, pointer_push, pointer_push_index, quote_shortened,
};
use super::source::SourceDoc;

/// Deserializes `value`, found at `pointer` in `doc`, into `T`.
///
/// `T` is a configuration struct using serde, normally with `#[serde(deny_unknown_fields)]` so
/// that typos are reported instead of ignored. Unlike serde_json, a struct is only read from a
/// JSON object, never from an array of its fields.
pub fn decode<T: DeserializeOwned>(
    doc: &SourceDoc,
    pointer: &str,
    value: &Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(ValueDeserializer(value)).map_err(|error| {
        let (target_pointer, target) = resolve_path(pointer, value, error.path());
        to_config_error(doc, &target_pointer, target, error.into_inner())
    })
}

/// Follows the failure path through the actual value, as far as it exists in the JSON. The path
/// can name things that are not JSON nodes (the variant of an enum written as a string, a key
/// that turned out unknown, segments serde could not track), so it is followed only while it
/// matches; errors are then placed at the deepest node reached.
fn resolve_path<'v>(
    base: &str,
    mut value: &'v Value,
    path: &serde_path_to_error::Path,
) -> (String, &'v Value) {
    use serde_path_to_error::Segment;

    let mut pointer = base.to_owned();
    for segment in path.iter() {
        let next = match (segment, value) {
            (Segment::Map { key }, Value::Object(map)) => {
                map.get(key).map(|v| (pointer_push(&pointer, key), v))
            }
            (Segment::Enum { variant }, Value::Object(map)) => map
                .get(variant)
                .map(|v| (pointer_push(&pointer, variant), v)),
            (Segment::Seq { index }, Value::Array(array)) => array
                .get(*index)
                .map(|v| (pointer_push_index(&pointer, *index), v)),
            _ => None,
        };
        match next {
            Some((next_pointer, next_value)) => {
                pointer = next_pointer;
                value = next_value;
            }
            None => break,
        }
    }
    (pointer, value)
}

fn to_config_error(
    doc: &SourceDoc,
    pointer: &str,
    value: &Value,
    error: DecodeError,
) -> ConfigError {
    match error {
        DecodeError::UnknownField { field, expected } => {
            // The path usually ends at the unknown key itself; if it stopped at the enclosing
            // object, step down to the key.
            let key_pointer = match value {
                Value::Object(map) if map.contains_key(&field) => pointer_push(pointer, &field),
                _ => pointer.to_owned(),
            };
            let message = format!("unknown key {}", quote_shortened(&field));
            let hint = if expected.is_empty() {
                "this object takes no keys; remove it".to_owned()
            } else {
                let allowed = join_names(expected.iter().copied());
                match did_you_mean(&field, expected.iter().copied()) {
                    Some(close) => format!("did you mean \"{close}\"? Allowed keys: {allowed}"),
                    None => format!("allowed keys: {allowed}"),
                }
            };
            doc.key_error(&key_pointer, message).with_hint(hint)
        }
        DecodeError::MissingField(field) => doc
            .error(pointer, format!("missing required key \"{field}\""))
            .with_hint(format!("add \"{field}\" to this object")),
        DecodeError::DuplicateField(field) => doc
            .error(pointer, format!("key \"{field}\" is given more than once"))
            .with_hint("a key and its alias mean the same thing; keep one of them"),
        DecodeError::UnknownVariant { variant, expected } => {
            unknown_variant(doc, pointer, value, &variant, expected)
        }
        DecodeError::InvalidType {
            unexpected,
            expected,
        } => {
            let mut error = doc.error(
                pointer,
                format!(
                    "expected {} here, found {unexpected}",
                    rephrase_expected(&expected)
                ),
            );
            if let Some(hint) = type_hint(value, &expected) {
                error = error.with_hint(hint);
            }
            error
        }
        DecodeError::InvalidValue {
            unexpected,
            expected,
        } => doc.error(
            pointer,
            format!(
                "invalid value: expected {}, found {unexpected}",
                rephrase_expected(&expected)
            ),
        ),
        DecodeError::InvalidLength { len, expected } => doc.error(
            pointer,
            format!(
                "expected {}, found an array of {len} element{}",
                rephrase_expected(&expected),
                if len == 1 { "" } else { "s" }
            ),
        ),
        DecodeError::Custom(message) => doc.error(pointer, message),
    }
}

fn unknown_variant(
    doc: &SourceDoc,
    pointer: &str,
    value: &Value,
    variant: &str,
    expected: &[&str],
) -> ConfigError {
    let message = format!("unknown value {}", quote_shortened(variant));
    let allowed = join_names(expected.iter().copied());
    let hint = match did_you_mean(variant, expected.iter().copied()) {
        Some(close) => format!("did you mean \"{close}\"? Accepted values: {allowed}"),
        None if expected.is_empty() => "no value is accepted here".to_owned(),
        None => format!("accepted values: {allowed}"),
    };
    // The variant is written as a string (the usual form), as the single key of an object (an
    // externally tagged enum with content), or as a member of the object (an internally tagged
    // enum, e.g. "type"); point at whichever holds it.
    let error = match value {
        Value::Object(map) if map.contains_key(variant) => {
            doc.key_error(&pointer_push(pointer, variant), message)
        }
        Value::Object(map) => match map.iter().find(|(_, v)| v.as_str() == Some(variant)) {
            Some((key, _)) => doc.error(&pointer_push(pointer, key), message),
            None => doc.error(pointer, message),
        },
        _ => doc.error(pointer, message),
    };
    error.with_hint(hint)
}

/// Puts serde's names of kinds ("u16", "struct Route", "a sequence") in the words of a JSON
/// file. Unknown phrasings (custom `expecting` of a hand-written visitor) pass through.
fn rephrase_expected(expected: &str) -> String {
    let rephrased = match expected {
        "u8" => "a whole number from 0 to 255",
        "u16" => "a whole number from 0 to 65535",
        "u32" => "a whole number from 0 to 4294967295",
        "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" => "a whole number from -128 to 127",
        "i16" => "a whole number from -32768 to 32767",
        "i32" => "a whole number from -2147483648 to 2147483647",
        "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a string" | "a borrowed string" | "a path string" => "a string",
        "a character" | "a char" => "a single character",
        "unit" => "null",
        "a sequence" | "a seq" | "a tuple" => "an array",
        "a map" => "an object",
        "any valid JSON value" => "a JSON value",
        _ => "",
    };
    if !rephrased.is_empty() {
        return rephrased.to_owned();
    }
    if expected.starts_with("struct ") || expected.starts_with("struct variant ") {
        return "an object".to_owned();
    }
    if let Some(rest) = expected.strip_prefix("a nonzero ") {
        return format!("{}, not 0", rephrase_expected(rest));
    }
    if let Some(size) = expected
        .strip_prefix("a tuple of size ")
        .or_else(|| expected.strip_prefix("tuple of size "))
        .or_else(|| expected.strip_prefix("an array of length "))
    {
        return format!("an array of {size} elements");
    }
    if expected.starts_with("tuple struct ") || expected.starts_with("tuple variant ") {
        return "an array".to_owned();
    }
    expected.to_owned()
}

/// Advice for the most common kind mix-ups: quoted numbers and booleans, unquoted strings.
fn type_hint(value: &Value, expected: &str) -> Option<String> {
    let wants_number = matches!(
        expected,
        "u8" | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "f32"
            | "f64"
    );
    match value {
        Value::String(s) if wants_number && s.trim().parse::<f64>().is_ok() => {
            Some(format!("write the number without quotes: {}", s.trim()))
        }
        Value::String(s) if expected == "a boolean" && matches!(s.trim(), "true" | "false") => {
            Some(format!("write {} without quotes", s.trim()))
        }
        Value::Number(n) if expected == "a string" => {
            Some(format!("put the value in double quotes: \"{n}\""))
        }
        Value::Bool(b) if expected == "a string" => {
            Some(format!("put the value in double quotes: \"{b}\""))
        }
        _ => None,
    }
}

/// A serde error as data, so [`to_config_error`] can phrase and place it.
#[derive(Debug)]
enum DecodeError {
    Custom(String),
    InvalidType {
        unexpected: String,
        expected: String,
    },
    InvalidValue {
        unexpected: String,
        expected: String,
    },
    InvalidLength {
        len: usize,
        expected: String,
    },
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    MissingField(&'static str),
    DuplicateField(&'static str),
}

impl fmt::Display for DecodeError {
    // Only seen if a caller formats the error before it is converted; the conversion above is
    // what users read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Custom(message) => f.write_str(message),
            DecodeError::InvalidType {
                unexpected,
                expected,
            } => write!(f, "invalid type: {unexpected}, expected {expected}"),
            DecodeError::InvalidValue {
                unexpected,
                expected,
            } => write!(f, "invalid value: {unexpected}, expected {expected}"),
            DecodeError::InvalidLength { len, expected } => {
                write!(f, "invalid length {len}, expected {expected}")
            }
            DecodeError::UnknownVariant { variant, .. } => write!(f, "unknown variant {variant}"),
            DecodeError::UnknownField { field, .. } => write!(f, "unknown field {field}"),
            DecodeError::MissingField(field) => write!(f, "missing field {field}"),
            DecodeError::DuplicateField(field) => write!(f, "duplicate field {field}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError::Custom(msg.to_string())
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        DecodeError::InvalidType {
            unexpected: describe_unexpected(&unexpected),
            expected: expected.to_string(),
        }
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        DecodeError::InvalidValue {
            unexpected: describe_unexpected(&unexpected),
            expected: expected.to_string(),
        }
    }

    fn invalid_length(len: usize, expected: &dyn Expected) -> Self {
        DecodeError::InvalidLength {
            len,
            expected: expected.to_string(),
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DecodeError::UnknownVariant {
            variant: variant.to_owned(),
            expected,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DecodeError::UnknownField {
            field: field.to_owned(),
            expected,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DecodeError::MissingField(field)
    }

    fn duplicate_field(field: &'static str) -> Self {
        DecodeError::DuplicateField(field)
    }
}

/// Names a value the way [`super::diagnostic::describe_value`] does, from what serde saw.
fn describe_unexpected(unexpected: &Unexpected<'_>) -> String {
    match unexpected {
        Unexpected::Bool(b) => b.to_string(),
        Unexpected::Unsigned(n) => format!("the number {n}"),
        Unexpected::Signed(n) => format!("the number {n}"),
        Unexpected::Float(n) => format!("the number {n}"),
        Unexpected::Char(c) => format!("the string {}", quote_shortened(&c.to_string())),
        Unexpected::Str(s) => format!("the string {}", quote_shortened(s)),
        Unexpected::Unit => "null".to_owned(),
        Unexpected::Seq => "an array".to_owned(),
        Unexpected::Map => "an object".to_owned(),
        other => other.to_string(),
    }
}

fn unexpected_of(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Unexpected::Unsigned(u)
            } else if let Some(i) = n.as_i64() {
                Unexpected::Signed(i)
            } else {
                Unexpected::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// Deserializes borrowed JSON values with [`DecodeError`] as the error type.
#[derive(Clone, Copy)]
struct ValueDeserializer<'de>(&'de Value);

impl<'de> IntoDeserializer<'de, DecodeError> for ValueDeserializer<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> ValueDeserializer<'de> {
    fn visit_array<V: Visitor<'de>>(
        array: &'de [Value],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let mut seq = SeqDeserializer::new(array.iter().map(ValueDeserializer));
        let value = visitor.visit_seq(&mut seq)?;
        // Elements the visitor did not take (a tuple shorter than the array) are an error, not
        // silently dropped.
        seq.end()?;
        Ok(value)
    }

    fn visit_object<V: Visitor<'de>>(
        map: &'de serde_json::Map<String, Value>,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let mut access =
            MapDeserializer::new(map.iter().map(|(k, v)| (k.as_str(), ValueDeserializer(v))));
        let value = visitor.visit_map(&mut access)?;
        access.end()?;
        Ok(value)
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if let Some(f) = n.as_f64() {
                    visitor.visit_f64(f)
                } else {
                    Err(de::Error::custom(format!("unsupported number {n}")))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(array) => Self::visit_array(array, visitor),
            Value::Object(map) => Self::visit_object(map, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            other => Err(de::Error::invalid_type(unexpected_of(other), &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    // serde's derived struct visitors also accept an array of the fields in order; in a
    // configuration file that would silently give meaning to a mistake, so only objects count.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Object(map) => Self::visit_object(map, visitor),
            other => Err(de::Error::invalid_type(unexpected_of(other), &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let expected = || ExpectedVariants(variants);
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Object(map) => {
                let mut members = map.iter();
                match (members.next(), members.next()) {
                    (Some((variant, content)), None) => {
                        visitor.visit_enum(EnumDeserializer { variant, content })
                    }
                    _ => Err(de::Error::invalid_value(Unexpected::Map, &expected())),
                }
            }
            other => Err(de::Error::invalid_type(unexpected_of(other), &expected())),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf seq tuple tuple_struct map identifier
    }
}

/// "one of A, B or an object with one of them as its only key", for enums given a wrong kind.
struct ExpectedVariants(&'static [&'static str]);

impl Expected for ExpectedVariants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one of {}", join_names(self.0.iter().copied()))
    }
}

/// An enum written as `{"Variant": content}`.
struct EnumDeserializer<'de> {
    variant: &'de str,
    content: &'de Value,
}

impl<'de> EnumAccess<'de> for EnumDeserializer<'de> {
    type Error = DecodeError;
    type Variant = ValueDeserializer<'de>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), DecodeError> {
        let variant = seed.deserialize(self.variant.into_deserializer())?;
        Ok((variant, ValueDeserializer(self.content)))
    }
}

impl<'de> VariantAccess<'de> for ValueDeserializer<'de> {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<(), DecodeError> {
        match self.0 {
            Value::Null => Ok(()),
            other => Err(de::Error::invalid_type(unexpected_of(other), &"null")),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, DecodeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Array(array) => Self::visit_array(array, visitor),
            other => Err(de::Error::invalid_type(unexpected_of(other), &visitor)),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Object(map) => Self::visit_object(map, visitor),
            other => Err(de::Error::invalid_type(unexpected_of(other), &visitor)),
        }
    }
}

#[cfg(test)]
mod tests;
