//! Request URI operations the host offers plugins beside plain get and set, so that the
//! commonest rewrites cost neither a URI rendered to text nor one parsed back.

use http::Uri;
use http::uri::PathAndQuery;

/// A `baseURI`: absolute (scheme and authority); its path, if any, goes before the request
/// paths it rebases.
pub fn parse_base(text: &str) -> Result<Uri, String> {
    Uri::try_from(text)
        .ok()
        .filter(|base| base.scheme().is_some() && base.authority().is_some())
        .ok_or_else(|| {
            format!("{text:?} is not an absolute URI such as http://app.example.com:8080")
        })
}

/// IG's `MutableUri.rebase` as its `baseURI` uses it: the base's scheme and authority, and
/// the base's path (without a trailing `/`) before the URI's own path and query. `base` is
/// absolute ([`parse_base`]).
pub fn rebase(uri: &Uri, base: &Uri) -> Result<Uri, String> {
    let mut rebased = uri.clone();
    rebase_in_place(&mut rebased, base)?;
    Ok(rebased)
}

/// [`rebase`] of a request's URI, in place; the URI is left as it was on an error. A base
/// without a path (the usual baseURI) keeps the request's own path and query, moved over
/// rather than shared, which would count a reference on their bytes.
pub fn rebase_in_place(uri: &mut Uri, base: &Uri) -> Result<(), String> {
    if base.scheme().is_none() || base.authority().is_none() {
        return Err(format!(
            "{base} is not an absolute URI such as http://app.example.com:8080"
        ));
    }
    let prefix = base.path().trim_end_matches('/');
    let prefixed = if prefix.is_empty() {
        None
    } else {
        let own = uri.path_and_query().map_or("/", PathAndQuery::as_str);
        Some(
            PathAndQuery::try_from(format!("{prefix}{own}"))
                .map_err(|error| format!("{prefix}{own} is not a valid path: {error}"))?,
        )
    };
    let mut parts = std::mem::take(uri).into_parts();
    parts.scheme = base.scheme().cloned();
    parts.authority = base.authority().cloned();
    parts.path_and_query = Some(match (prefixed, parts.path_and_query.take()) {
        (Some(path), _) | (None, Some(path)) => path,
        (None, None) => PathAndQuery::from_static("/"),
    });
    // Scheme, authority and path are all there: nothing for from_parts to refuse.
    *uri = Uri::from_parts(parts).map_err(|error| error.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests;
