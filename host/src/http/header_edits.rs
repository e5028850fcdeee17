//! A fixed edit of a message's headers, checked once and then made on every message: what a
//! plugin declares with `config.edit-headers` instead of making the edit in a call.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Removes every header named in `remove`, then appends each of `append`, in order: IG's
/// HeaderFilter order, where a `replace` is a removal followed by an append.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderEdits {
    remove: Vec<HeaderName>,
    append: Vec<(HeaderName, HeaderValue)>,
}

impl HeaderEdits {
    /// Parses names and values; the error names the first one HTTP does not allow.
    pub fn parse(remove: Vec<String>, append: Vec<(String, String)>) -> Result<Self, String> {
        let remove = remove
            .iter()
            .map(|name| header_name(name))
            .collect::<Result<_, _>>()?;
        let append = append
            .into_iter()
            .map(|(name, value)| {
                let parsed = header_name(&name)?;
                let value = HeaderValue::try_from(value).map_err(|_| {
                    format!("the value of header \"{name}\" holds a character HTTP does not allow")
                })?;
                Ok((parsed, value))
            })
            .collect::<Result<_, String>>()?;
        Ok(HeaderEdits { remove, append })
    }

    pub fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.append {
            // Values share their bytes: a clone per message is a reference count, not a copy.
            headers.append(name.clone(), value.clone());
        }
    }
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::try_from(name).map_err(|_| format!("\"{name}\" is not a valid header name"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    fn pairs(entries: &[(&str, &str)]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    fn headers(entries: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in entries {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn values<'a>(map: &'a HeaderMap, name: &str) -> Vec<&'a str> {
        map.get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap())
            .collect()
    }

    #[test]
    fn removals_come_before_appends_so_a_removed_name_can_be_set_again() {
        let edits = HeaderEdits::parse(
            strings(&["Cookie", "x-replaced"]),
            pairs(&[
                ("X-Replaced", "new"),
                ("X-Added", "one"),
                ("x-added", "two"),
            ]),
        )
        .unwrap();
        let mut map = headers(&[
            ("cookie", "a=1"),
            ("cookie", "b=2"),
            ("x-replaced", "old"),
            ("x-added", "zero"),
            ("accept", "*/*"),
        ]);
        edits.apply(&mut map);
        assert!(map.get("cookie").is_none());
        assert_eq!(values(&map, "x-replaced"), ["new"]);
        assert_eq!(values(&map, "x-added"), ["zero", "one", "two"]);
        assert_eq!(values(&map, "accept"), ["*/*"]);
    }

    #[test]
    fn the_same_edit_gives_the_same_headers_on_every_message() {
        let edits = HeaderEdits::parse(vec![], pairs(&[("X-Gateway", "ferrogate")])).unwrap();
        for _ in 0..3 {
            let mut map = HeaderMap::new();
            edits.apply(&mut map);
            assert_eq!(values(&map, "x-gateway"), ["ferrogate"]);
        }
    }

    #[test]
    fn invalid_names_and_values_are_refused_with_the_header_they_are_in() {
        let error = HeaderEdits::parse(strings(&["bad name"]), vec![]).unwrap_err();
        assert!(
            error.contains("\"bad name\" is not a valid header name"),
            "{error}"
        );
        let error = HeaderEdits::parse(vec![], pairs(&[("", "x")])).unwrap_err();
        assert!(error.contains("\"\" is not a valid header name"), "{error}");
        let error =
            HeaderEdits::parse(vec![], pairs(&[("X-Split", "a\r\nInjected: 1")])).unwrap_err();
        assert!(error.contains("header \"X-Split\""), "{error}");
    }
}
