//! Request paths as the edge and the vertical both read them. The vertical serves canonical
//! paths only, and the edge decides which requests spend the login budget with the same
//! segments, so no other spelling of a path (`/auth/login/`, `//auth/login`) reaches login
//! under the general budget.

/// `/` or `/segment(/segment)*`: no empty segment (`//`, a trailing `/`), no `.` or `..`.
pub fn is_canonical(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    match path.strip_prefix('/') {
        Some(rest) => rest.split('/').all(|s| !s.is_empty() && s != "." && s != ".."),
        None => false,
    }
}

/// The non-empty segments of a path, the way routing matches them.
pub fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty() && *s != ".")
}

/// Whether a request is a login attempt, however its path is spelt (the sign-in form and the
/// API both post to `/auth/login`).
pub fn is_login(method: &str, path: &str) -> bool {
    let mut s = segments(path);
    method == "POST" && s.next() == Some("auth") && s.next() == Some("login") && s.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths() {
        for ok in ["/", "/auth/login", "/api/v1/products", "/static/app.css"] {
            assert!(is_canonical(ok), "{ok}");
        }
        for bad in ["", "auth/login", "/auth/login/", "//auth/login", "/auth//login", "/auth/./login", "/api/../auth/login", "/./"] {
            assert!(!is_canonical(bad), "{bad}");
        }
    }

    #[test]
    fn every_spelling_of_login_is_login() {
        let post = "POST";
        for path in ["/auth/login", "/auth/login/", "//auth/login", "/auth//login", "/auth/./login", "///auth///login///"] {
            assert!(is_login(post, path), "{path}");
        }
        assert!(!is_login("GET", "/auth/login"));
        for path in ["/auth/logout", "/auth/login/x", "/x/auth/login", "/auth"] {
            assert!(!is_login(post, path), "{path}");
        }
    }
}
