//! PATCH semantics for an optional field: absent leaves it, `null` clears it, a value sets it.
//! In OpenAPI it is documented as the optional value (`#[schema(value_type = Option<…>)]`).

use serde::{Deserialize, Deserializer};

/// One optional field of a PATCH body. Use with `#[serde(default)]`, so an absent field is
/// [`Nullable::Leave`]; `null` is [`Nullable::Clear`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Nullable<T> {
    #[default]
    Leave,
    Clear,
    Set(T),
}

impl<T> Nullable<T> {
    /// The change as `Option<Option<T>>`: `None` leaves, `Some(None)` clears.
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Self::Leave => None,
            Self::Clear => Some(None),
            Self::Set(v) => Some(Some(v)),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Reached only when the field is present (absent fields take the default).
        Ok(match Option::<T>::deserialize(d)? {
            None => Self::Clear,
            Some(v) => Self::Set(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Nullable;

    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        note: Nullable<String>,
    }

    #[test]
    fn absent_null_and_value_are_three_different_changes() {
        let parse = |s: &str| serde_json::from_str::<Body>(s).unwrap().note;
        assert_eq!(parse("{}"), Nullable::Leave);
        assert_eq!(parse(r#"{"note":null}"#), Nullable::Clear);
        assert_eq!(parse(r#"{"note":"x"}"#), Nullable::Set("x".to_string()));
        assert_eq!(parse(r#"{"note":null}"#).into_change(), Some(None));
    }
}
