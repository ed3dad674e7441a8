//! Authentication: password hashing, access tokens (JWT), refresh tokens, finding the caller
//! of a request, revocation, and the checks made on a request's head before its body is read.

pub mod gate;
pub mod password;
pub mod principal;
pub mod revocation;
pub mod sessions;
pub mod tokens;

pub use principal::Principal;
