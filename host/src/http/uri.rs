//! Request URI operations the host offers plugins beside plain get and set, so that the
//! commonest rewrites cost neither a URI rendered to text nor one parsed back.

use http::Uri;
use http::uri::{Parts, PathAndQuery};

/// IG's `MutableUri.rebase` as its `baseURI` uses it: the base's scheme and authority, and
/// the base's path (without a trailing `/`) before the URI's own path and query. A base
/// without a path leaves the path and query as they are, sharing their bytes.
pub fn rebase(uri: &Uri, base: &str) -> Result<Uri, String> {
    let not_absolute =
        || format!("{base:?} is not an absolute URI such as http://app.example.com:8080");
    let base = Uri::try_from(base).map_err(|_| not_absolute())?;
    let (Some(scheme), Some(authority)) = (base.scheme(), base.authority()) else {
        return Err(not_absolute());
    };
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
    parts.scheme = Some(scheme.clone());
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests;
