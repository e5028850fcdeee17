//! Request URI operations the host offers plugins beside plain get and set, so that the
//! commonest rewrites cost neither a URI rendered to text nor one parsed back.

use http::Uri;
use http::uri::{Parts, PathAndQuery};

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
/// the base's path (without a trailing `/`) before the URI's own path and query. A base
/// without a path leaves the path and query as they are, sharing their bytes.
pub fn rebase(uri: &Uri, base: &Uri) -> Result<Uri, String> {
    let prefix = base.path().trim_end_matches('/');
    let path_and_query = match uri.path_and_query() {
        Some(own) if prefix.is_empty() => own.clone(),
        own => {
            let own = own.map_or("/", PathAndQuery::as_str);
            PathAndQuery::try_from(format!("{prefix}{own}"))
                .map_err(|error| format!("{prefix}{own} is not a valid path: {error}"))?
        }
    };
    let mut parts = Parts::default();
    parts.scheme = base.scheme().cloned();
    parts.authority = base.authority().cloned();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).map_err(|error| error.to_string())
}

/// [`rebase`] of a request's URI, in place; the URI is left as it was on an error.
pub fn rebase_in_place(uri: &mut Uri, base: &Uri) -> Result<(), String> {
    let whole_base = base.scheme().is_some() && base.authority().is_some();
    if !whole_base || !base.path().trim_end_matches('/').is_empty() {
        *uri = rebase(uri, base)?;
        return Ok(());
    }
    // A base of scheme and authority alone (the usual baseURI) keeps the request's own path
    // and query: moved over rather than shared, which would count a reference on its bytes.
    let mut parts = std::mem::take(uri).into_parts();
    parts.scheme = base.scheme().cloned();
    parts.authority = base.authority().cloned();
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(PathAndQuery::from_static("/"));
    }
    // Scheme, authority and path are all there: nothing for from_parts to refuse.
    *uri = Uri::from_parts(parts).map_err(|error| error.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests;
